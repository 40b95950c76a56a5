"""Allow and deny through every shipped proxy configuration: who reaches the application."""

from __future__ import annotations

import pytest

from tests.support.gate import Gate
from tests.support.personas import Tokens

pytestmark = pytest.mark.e2e


def test_allowed_user_reaches_the_backend(gate: Gate, tokens: Tokens) -> None:
    """ALICE reaches an application open to everyone signed in."""
    sent = gate.get("open.example.com", "/dashboard", token=tokens.alice)
    assert sent.status == 200
    assert len(sent.arrived) == 1


def test_backend_receives_the_identity_countersign_vouched_for(gate: Gate, tokens: Tokens) -> None:
    """On allow the backend gets X-Auth-Request-User/-Email/-Groups for ALICE."""
    seen = gate.get("open.example.com", "/dashboard", token=tokens.alice).seen
    assert seen.header("X-Auth-Request-User")
    assert seen.header("X-Auth-Request-Email") == "alice@example.com"
    assert seen.header("X-Auth-Request-Groups") == "engineers"


def test_groups_reach_the_backend_as_one_comma_joined_header(gate: Gate, tokens: Tokens) -> None:
    """BOB's two groups arrive as a single comma-joined X-Auth-Request-Groups line."""
    seen = gate.get("open.example.com", "/", token=tokens.bob).seen
    values = [v for k, v in seen.headers if k.lower() == "x-auth-request-groups"]
    assert len(values) == 1
    assert {g.strip() for g in values[0].split(",")} == {"admins", "leads"}


def test_session_cookie_signs_the_user_in(gate: Gate, tokens: Tokens) -> None:
    """The token in the session cookie is passed to Countersign and accepted."""
    sent = gate.get("open.example.com", "/", cookie=tokens.alice, browser=True)
    assert sent.status == 200
    assert sent.seen.header("X-Auth-Request-Email") == "alice@example.com"


def test_user_outside_the_allowed_groups_is_denied(gate: Gate, tokens: Tokens) -> None:
    """ALICE gets 403 from the admin console and the backend never sees the request."""
    sent = gate.get("admin.example.com", "/", token=tokens.alice, browser=True)
    assert sent.status == 403
    assert sent.arrived == ()


def test_blocked_contractor_is_denied(gate: Gate, tokens: Tokens) -> None:
    """MALLORY the contractor gets 403 from the admin console; the backend never sees it."""
    sent = gate.get("admin.example.com", "/", token=tokens.mallory)
    assert sent.status == 403
    assert sent.arrived == ()


def test_admin_reaches_the_admin_console(gate: Gate, tokens: Tokens) -> None:
    """BOB, an admin, is let into the admin console."""
    sent = gate.get("admin.example.com", "/users", token=tokens.bob)
    assert sent.status == 200
    assert len(sent.arrived) == 1


def test_bypassed_health_path_needs_no_sign_in(gate: Gate) -> None:
    """The bypassed /healthz of open.example.com answers an anonymous probe."""
    sent = gate.get("open.example.com", "/healthz")
    assert sent.status == 200
    assert len(sent.arrived) == 1


def test_unknown_host_is_denied(gate: Gate, tokens: Tokens) -> None:
    """A host no policy names is denied, even for a signed-in user."""
    sent = gate.get("unlisted.example.net", "/", token=tokens.bob)
    assert sent.status == 403
    assert sent.arrived == ()


def test_large_cookie_header_does_not_break_the_check(gate: Gate, tokens: Tokens) -> None:
    """A 16 KB cookie next to the token still gets a decision and reaches the backend."""
    sent = gate.get(
        "open.example.com",
        "/",
        token=tokens.alice,
        headers={"Cookie": "prefs=" + "x" * 16_384},
    )
    assert sent.status == 200
    assert len(sent.arrived) == 1
