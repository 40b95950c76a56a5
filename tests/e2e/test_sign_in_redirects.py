"""Users who must sign in or ask for approval are sent to Countersign's pages, never through."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.countersign import RunningCountersign
from tests.support.gate import Gate, Sent
from tests.support.personas import Tokens
from tests.support.proxies import PUBLIC_HOST

pytestmark = pytest.mark.e2e

#: nginx turns every 401 + Location into a 302 (error_page); the others pass 303 through.
POST_REDIRECT = {"nginx": 302, "traefik": 303, "envoy": 303, "caddy": 303, "envoy-grpc": 303}
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_HOPS = 4


def test_anonymous_browser_is_redirected_to_sign_in(
    gate: Gate, countersign: RunningCountersign
) -> None:
    """An anonymous page load gets a 302 to the absolute sign-in URL."""
    sent = gate.get("open.example.com", "/dashboard?tab=1", browser=True)
    assert sent.status == 302
    assert sent.location is not None
    assert sent.location.startswith(f"{countersign.public_url}/login?")
    assert sent.arrived == ()


def test_sign_in_redirect_carries_the_original_url(gate: Gate) -> None:
    """The sign-in redirect's `rd` is the URL the user asked for."""
    sent = gate.get("open.example.com", "/dashboard?tab=1", browser=True)
    assert sent.location_query().get("rd") == ["http://open.example.com/dashboard?tab=1"]


def test_anonymous_form_post_is_redirected_as_a_get(gate: Gate) -> None:
    """An anonymous form POST is redirected (303 where the proxy passes it through)."""
    sent = gate.send("POST", "open.example.com", "/form", browser=True, content=b"a=1")
    assert sent.status == POST_REDIRECT[gate.name]
    assert sent.arrived == ()


def test_anonymous_api_client_gets_401(gate: Gate) -> None:
    """An anonymous JSON client gets 401, not a redirect it cannot follow."""
    sent = gate.get("open.example.com", "/api/items")
    assert sent.status == 401
    assert sent.location is None
    assert sent.arrived == ()


def test_anonymous_xhr_gets_401(gate: Gate) -> None:
    """An anonymous XHR (X-Requested-With) gets 401 even when it accepts HTML."""
    sent = gate.get(
        "open.example.com", "/", browser=True, headers={"X-Requested-With": "XMLHttpRequest"}
    )
    assert sent.status == 401
    assert sent.arrived == ()


def test_401_tells_the_client_how_to_authenticate(gate: Gate) -> None:
    """The 401 to an API client carries WWW-Authenticate."""
    sent = gate.get("open.example.com", "/api/items")
    assert sent.response.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_approval_app_redirects_to_the_request_page(
    gate: Gate, tokens: Tokens, countersign: RunningCountersign
) -> None:
    """ALICE is sent to the request page of the approval-gated app, with the original URL."""
    sent = gate.get("approval.example.com", "/reports?q=1", token=tokens.alice, browser=True)
    assert sent.status == 302
    assert sent.location is not None
    assert sent.location.startswith(f"{countersign.public_url}/request?")
    assert sent.location_query() == {
        "app": ["approval"],
        "rd": ["http://approval.example.com/reports?q=1"],
    }
    assert sent.arrived == ()


def test_approval_app_answers_api_clients_with_403(gate: Gate, tokens: Tokens) -> None:
    """An API client without a grant gets 403, never the application."""
    sent = gate.get("approval.example.com", "/api/reports", token=tokens.alice)
    assert sent.status == 403
    assert sent.arrived == ()


def test_countersign_pages_skip_the_check(gate: Gate) -> None:
    """Countersign's own host is routed to Countersign without a check (no redirect loop)."""
    sent = gate.get(PUBLIC_HOST, "/dev/login")
    assert sent.status == 200
    assert sent.arrived == ()


def _follow_sign_in(gate: Gate, location: str | None) -> tuple[Sent, str]:
    """Follow redirects on Countersign's host; the last answer and the URL that gave it."""
    target = ""
    for _ in range(MAX_HOPS):
        parts = urlsplit(location or "")
        assert parts.hostname in (None, PUBLIC_HOST), f"left Countersign's host: {location}"
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        sent = gate.get(PUBLIC_HOST, target, browser=True)
        if sent.status not in REDIRECTS:
            return sent, target
        location = sent.location
    raise AssertionError(f"still redirecting after {MAX_HOPS} hops: {location}")


def test_sign_in_page_loads_without_a_check(gate: Gate) -> None:
    """The sign-in URL an anonymous user is sent to loads through the proxy, with no loop."""
    start = gate.get("open.example.com", "/dashboard", browser=True)
    page, _ = _follow_sign_in(gate, start.location)
    assert page.status == 200
    assert page.arrived == ()


def test_sign_in_page_keeps_the_original_url(gate: Gate) -> None:
    """The sign-in page a user lands on still carries the original URL in `rd`."""
    start = gate.get("open.example.com", "/dashboard?tab=1", browser=True)
    _, target = _follow_sign_in(gate, start.location)
    assert parse_qs(urlsplit(target).query).get("rd") == ["http://open.example.com/dashboard?tab=1"]
