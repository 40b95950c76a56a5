"""Methods other than GET, and path tricks, are decided like any request and never slip past."""

from __future__ import annotations

import time

import pytest

from tests.support.gate import Gate
from tests.support.personas import Tokens

pytestmark = pytest.mark.e2e

#: Paths that a naive prefix match on the raw path would send to open.example.com/ instead of
#: the stricter /admin (admins only).
INTO_ADMIN = (
    "/docs/../admin",
    "/docs/../admin/users",
    "/docs/%2e%2e/admin",
    "/docs/%2E%2E/admin/",
    "//admin",
    "/./admin",
    "/docs/..%2Fadmin",
    "/docs%2F..%2Fadmin",
    "/%61dmin",
)
#: The same tricks starting from the bypassed (anonymous) health path.
OUT_OF_BYPASS = (
    "/healthz/../admin",
    "/healthz/../",
    "/healthz/%2e%2e/dashboard",
    "/healthz/..%2Fdashboard",
    "/healthz%2F..%2Fdashboard",
    "/healthz/..;/dashboard",
)


def test_post_body_reaches_the_backend_promptly(gate: Gate, tokens: Tokens) -> None:
    """An allowed POST with a 64 KB body arrives whole, without the auth call waiting on it."""
    body = b"x" * 65_536
    started = time.monotonic()
    sent = gate.send("POST", "open.example.com", "/submit", token=tokens.alice, content=body)
    assert sent.status == 200
    assert time.monotonic() - started < 5
    assert sent.seen.body == body


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"])
def test_allowed_method_is_forwarded(gate: Gate, tokens: Tokens, method: str) -> None:
    """An allowed request of any method reaches the backend with its method intact."""
    sent = gate.send(method, "open.example.com", "/items/1", token=tokens.alice)
    assert sent.status == 200
    assert sent.seen.method == method


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_deny_holds_for_every_method(gate: Gate, tokens: Tokens, method: str) -> None:
    """ALICE is denied the admin console whatever the method."""
    sent = gate.send(method, "admin.example.com", "/users", token=tokens.alice, content=b"{}")
    assert sent.status == 403
    assert sent.arrived == ()


def test_cors_preflight_without_credentials_is_not_forwarded(gate: Gate) -> None:
    """An anonymous CORS preflight gets 401 and never reaches the backend."""
    sent = gate.send(
        "OPTIONS",
        "open.example.com",
        "/api/items",
        headers={
            "Accept": "*/*",
            "Origin": "https://evil.example.org",
            "Access-Control-Request-Method": "DELETE",
        },
    )
    assert sent.status == 401
    assert sent.arrived == ()


def test_encoded_slash_in_the_query_is_passed_through(gate: Gate, tokens: Tokens) -> None:
    """`%2F` in the query is no path trick: the request is allowed and the query arrives as sent."""
    sent = gate.get("open.example.com", "/search?next=%2Fadmin%2Fusers", token=tokens.alice)
    assert sent.status == 200
    assert sent.seen.query == "next=%2Fadmin%2Fusers"


@pytest.mark.parametrize("target", INTO_ADMIN)
def test_path_tricks_never_reach_a_stricter_app(gate: Gate, tokens: Tokens, target: str) -> None:
    """ALICE cannot reach the admins-only /admin with dot segments, double or encoded slashes."""
    sent = gate.get("open.example.com", target, token=tokens.alice)
    assert sent.status >= 400
    assert sent.arrived == ()


@pytest.mark.parametrize("target", OUT_OF_BYPASS)
def test_path_tricks_never_escape_the_bypassed_path(gate: Gate, target: str) -> None:
    """An anonymous client cannot climb out of the bypassed /healthz into the protected app."""
    sent = gate.get("open.example.com", target)
    assert sent.status >= 400
    assert sent.arrived == ()
