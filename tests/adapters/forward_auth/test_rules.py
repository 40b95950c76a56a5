"""The decision-to-response table, each rule written once and checked for every flavour.

Every transport (nginx, Traefik/Caddy, Envoy HTTP, Envoy gRPC) asks the same Checker; a rule
that holds for one and not another is a hole in the edge, so each test here runs for all the
clients of flavour_clients.CLIENTS.
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from app.core.decision import GrantState
from tests.adapters.forward_auth.flavour_clients import CLIENTS, Ask, Client
from tests.adapters.forward_auth.scenario import NOW, Grants, build

GRAFANA = "https://grafana.example.com/d/1?x=1"


@pytest.fixture(params=sorted(CLIENTS), name="client")
def client_fixture(request: pytest.FixtureRequest) -> Client:
    return CLIENTS[request.param]


def _redirect(client: Client, view_status: int, location: str | None) -> str:
    assert view_status in client.redirect_statuses, view_status
    assert location is not None
    return location


def test_allow_sets_the_identity_headers_and_no_store(client: Client) -> None:
    """An allowed SRE passes with X-Auth-Request-* for the application, never cached."""
    handler, _, _ = build()
    view = client.ask(handler, Ask(GRAFANA, "bob-token"))
    assert view.allowed
    assert view.headers["x-auth-request-user"] == "bob@example.com"
    assert view.headers["x-auth-request-email"] == "bob@example.com"
    assert view.headers["x-auth-request-groups"] == "sre,sre-leads"


def test_deny_is_403_never_a_redirect(client: Client) -> None:
    """A blocked contractor is refused with 403 and no Location, browser or not."""
    handler, _, _ = build()
    for browser in (True, False):
        view = client.ask(handler, Ask(GRAFANA, "mallory-token", browser=browser))
        assert not view.allowed
        assert view.status == 403
        assert view.location is None


def test_an_unauthenticated_browser_is_sent_to_sign_in_with_rd(client: Client) -> None:
    """The sign-in URL carries the whole original URL back in `rd`."""
    handler, _, _ = build()
    view = client.ask(handler, Ask(GRAFANA))
    location = _redirect(client, view.status, view.location)
    assert not view.allowed
    assert location.startswith("https://auth.example.com/login?")
    assert parse_qs(urlsplit(location).query)["rd"] == [GRAFANA]


def test_a_redirect_after_a_post_is_a_303(client: Client) -> None:
    """A browser that POSTed is sent on with 303 (GET), where the proxy redirects at all."""
    handler, _, _ = build()
    view = client.ask(handler, Ask(GRAFANA, method="POST"))
    expected = 401 if client.redirect_statuses == (401,) else 303
    assert view.status == expected
    assert view.location is not None


def test_an_unauthenticated_api_client_gets_401_and_www_authenticate(client: Client) -> None:
    """JSON and XHR clients cannot follow a cross-origin redirect: 401, no Location."""
    handler, _, _ = build()
    for ask in (
        Ask(GRAFANA, browser=False),
        Ask(GRAFANA, headers={"X-Requested-With": "XMLHttpRequest"}),
    ):
        view = client.ask(handler, ask)
        assert view.status == 401
        assert view.location is None
        assert view.headers["www-authenticate"].startswith("Bearer")
        assert json.loads(view.body) == {"decision": "unauthenticated"}


def test_needs_approval_sends_a_browser_to_the_request_page(client: Client) -> None:
    """An engineer without a grant goes to the request page of that application, with rd."""
    handler, _, _ = build()
    view = client.ask(handler, Ask(GRAFANA, "alice-token"))
    location = _redirect(client, view.status, view.location)
    query = parse_qs(urlsplit(location).query)
    assert location.startswith("https://auth.example.com/request?")
    assert query == {"app": ["grafana"], "rd": [GRAFANA]}


def test_needs_approval_tells_an_api_client_where_to_ask(client: Client) -> None:
    """403 with the request page's URL in the body and a header."""
    handler, _, _ = build()
    view = client.ask(handler, Ask(GRAFANA, "alice-token", browser=False))
    body = json.loads(view.body)
    assert view.status == 403
    assert body["decision"] == "needs_approval"
    assert body["request_url"].startswith("https://auth.example.com/request?app=grafana")
    assert view.headers["x-countersign-request-url"] == body["request_url"]


def test_an_active_grant_allows(client: Client) -> None:
    """With a grant, the engineer passes, and the store was asked once."""
    grants = Grants(GrantState(grant_expires_at=NOW + timedelta(minutes=5), grant_id="g1"))
    handler, grants, _ = build(grants)
    view = client.ask(handler, Ask(GRAFANA, "alice-token"))
    assert view.allowed
    assert grants.calls == 1


def test_store_down_is_503_where_a_grant_is_needed_only(client: Client) -> None:
    """Redis down: the approval application cannot decide (503, fail closed); SRE passes."""
    handler, _, observer = build(Grants(broken=True))
    engineer = client.ask(handler, Ask(GRAFANA, "alice-token"))
    sre = client.ask(handler, Ask(GRAFANA, "bob-token"))
    assert engineer.status == 503
    assert not engineer.allowed
    assert sre.allowed
    assert observer.decisions[0].reasons[0].value == "grant-state-unavailable"


def test_a_policy_that_needs_no_grant_never_asks_the_store(client: Client) -> None:
    """A plain allow costs no Redis round trip."""
    handler, grants, _ = build()
    assert client.ask(handler, Ask(GRAFANA, "bob-token")).allowed
    assert grants.calls == 0


def test_a_caller_that_is_not_a_trusted_proxy_gets_400(client: Client) -> None:
    """Forwarded metadata from outside TRUSTED_PROXIES is not evidence: 400, no decision."""
    handler, _, observer = build()
    view = client.ask(handler, Ask(GRAFANA, "bob-token", peer="203.0.113.9"))
    assert view.status == 400
    assert not view.allowed
    assert observer.decisions == []


def test_a_host_no_application_claims_is_denied(client: Client) -> None:
    """Zero trust: an unknown host is 403 even for a signed-in SRE."""
    handler, _, observer = build()
    view = client.ask(handler, Ask("https://other.example.com/", "bob-token"))
    assert view.status == 403
    assert observer.decisions[-1].reasons[0].value == "application-not-found"


def test_identity_headers_sent_by_a_client_identify_nobody(client: Client) -> None:
    """X-Auth-Request-User or Remote-User from a client does not sign anyone in."""
    handler, _, _ = build()
    forged = {"X-Auth-Request-User": "bob@example.com", "Remote-User": "bob@example.com"}
    view = client.ask(handler, Ask(GRAFANA, headers=forged))
    assert not view.allowed
    assert view.status in client.redirect_statuses


def test_a_forged_token_is_unauthenticated_not_an_error(client: Client) -> None:
    """A token that does not verify means no identity: sign in, not 500."""
    handler, _, _ = build()
    view = client.ask(handler, Ask(GRAFANA, "forged"))
    assert view.status in client.redirect_statuses
    assert "/login?" in (view.location or "")


def test_dot_segments_are_judged_as_the_normalised_path(client: Client) -> None:
    """`/healthz/../admin` is Grafana's `/admin`, not the bypassed health path."""
    handler, _, _ = build()
    sneaky = client.ask(handler, Ask("https://grafana.example.com/healthz/../admin"))
    health = client.ask(handler, Ask("https://grafana.example.com/healthz"))
    assert not sneaky.allowed
    assert health.allowed
