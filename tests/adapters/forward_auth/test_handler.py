"""The raw forward-auth handler: trusted callers only, one decision, the right answer per proxy."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.adapters.forward_auth.flavours import Targets
from app.adapters.forward_auth.handler import ForwardAuth
from app.adapters.forward_auth.original import BadProxyRequestError
from app.core.context import UNKNOWN_DEVICE, Device, Identity, IPAddress
from app.core.decision import Decision, GrantState
from app.core.policy.compile import Source, compile_policy_set
from app.services.decide import DecisionService

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ALICE = Identity("alice", "alice@example.com", frozenset({"engineers"}))
BOB = Identity("bob", "bob@example.com", frozenset({"sre", "sre-leads"}))
MALLORY = Identity("mallory", "mallory@contractor.example", frozenset({"contractors"}))
TOKENS = {"alice-token": ALICE, "bob-token": BOB, "mallory-token": MALLORY}

POLICY = """
application: {id: grafana, name: Grafana, hosts: [grafana.example.com]}
policies:
  - name: SRE
    action: allow
    include: [{group: sre}]
  - name: Contractors never
    action: block
    include: [{group: contractors}]
  - name: Engineers with approval
    action: allow
    include: [{group: engineers}]
    approval: {approvers: [{group: sre-leads}], default_duration: 1h, max_duration: 8h}
"""
HEALTH = """
application: {id: health, hosts: [grafana.example.com], paths: [/healthz]}
policies:
  - {name: public, action: bypass, include: [{everyone: true}]}
"""
POLICIES = compile_policy_set([Source("grafana.yaml", POLICY), Source("health.yaml", HEALTH)])


class Grants:
    """A grant store fake: a fixed state, or an error to prove the service fails closed."""

    def __init__(self, state: GrantState | None = None, *, broken: bool = False) -> None:
        self.state = state or GrantState()
        self.broken = broken
        self.calls = 0

    async def grant_state(self, user: str, application: str) -> GrantState:
        self.calls += 1
        if self.broken:
            raise ConnectionError("redis down")
        return self.state


class Observer:
    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    def decided(self, decision: Decision, *, seconds: float) -> None:
        self.decisions.append(decision)

    def store_failed(self) -> None:
        pass


async def identify(headers: Mapping[str, str]) -> tuple[Identity | None, str | None]:
    auth = headers.get("authorization", "")
    token = auth.removeprefix("Bearer ")
    if not token:
        return None, None
    identity = TOKENS.get(token)
    return (identity, None) if identity else (None, "token-signature-invalid")


def signals(
    peer: str, headers: Mapping[str, str], identity: Identity | None
) -> tuple[IPAddress | None, str | None, Device]:
    if headers.get("x-forwarded-for") == "garbage":
        raise BadProxyRequestError("bad x-forwarded-for")
    return ip_address("198.51.100.7"), "FR", UNKNOWN_DEVICE


def build(grants: Grants | None = None) -> tuple[ForwardAuth, Grants, Observer]:
    grants = grants or Grants()
    observer = Observer()
    service = DecisionService(
        policies=lambda: POLICIES,
        grants=grants,
        clock=lambda: NOW,
        observer=observer,
        store_timeout=0.5,
    )
    handler = ForwardAuth(
        decisions=service,
        identify=identify,
        signals=signals,
        is_trusted_peer=lambda peer: peer == "127.0.0.1",
        targets=Targets("https://auth.example.com/login", "https://auth.example.com/request"),
    )
    return handler, grants, observer


def call(
    handler: ForwardAuth,
    path: str,
    headers: dict[str, str],
    *,
    method: str = "GET",
    client: tuple[str, int] = ("127.0.0.1", 5000),
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=handler, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://countersign") as http:
            return await http.request(method, path, headers=headers)

    return asyncio.run(go())


def nginx(url: str, token: str | None = None, **extra: str) -> dict[str, str]:
    headers = {"X-Original-URL": url, "X-Original-Method": "GET", "Accept": "text/html", **extra}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def traefik(
    url: str, token: str | None = None, method: str = "GET", **extra: str
) -> dict[str, str]:
    scheme, rest = url.split("://", 1)
    host, _, uri = rest.partition("/")
    headers = {
        "X-Forwarded-Proto": scheme,
        "X-Forwarded-Host": host,
        "X-Forwarded-Uri": "/" + uri,
        "X-Forwarded-Method": method,
        "Accept": "text/html",
        **extra,
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def test_allow_sends_identity_headers_and_no_store() -> None:
    """An allowed SRE gets 200 with X-Auth-Request-* and Cache-Control: no-store."""
    handler, _, _ = build()
    response = call(handler, "/auth/nginx", nginx("https://grafana.example.com/d/1", "bob-token"))
    assert response.status_code == 200
    assert response.headers["x-auth-request-user"] == "bob@example.com"
    assert response.headers["x-auth-request-email"] == "bob@example.com"
    assert response.headers["x-auth-request-groups"] == "sre,sre-leads"
    assert response.headers["cache-control"] == "no-store"


def test_deny_is_403_for_every_flavour() -> None:
    """A blocked contractor gets 403 from nginx, Traefik and Envoy alike, never a redirect."""
    handler, _, _ = build()
    url = "https://grafana.example.com/"
    assert call(handler, "/auth/nginx", nginx(url, "mallory-token")).status_code == 403
    assert call(handler, "/auth/traefik", traefik(url, "mallory-token")).status_code == 403
    envoy = {"Host": "grafana.example.com", "Authorization": "Bearer mallory-token"}
    assert call(handler, "/auth/envoy/", envoy).status_code == 403


def test_unauthenticated_browser_nginx_gets_401_with_absolute_location() -> None:
    """nginx cannot pass a redirect through auth_request, so sign-in is 401 + Location."""
    handler, _, _ = build()
    response = call(handler, "/auth/nginx", nginx("https://grafana.example.com/d/1?x=1"))
    assert response.status_code == 401
    assert response.headers["location"] == (
        "https://auth.example.com/login?rd=https%3A%2F%2Fgrafana.example.com%2Fd%2F1%3Fx%3D1"
    )


def test_unauthenticated_browser_traefik_gets_302_and_303_for_post() -> None:
    """Traefik and Caddy redirect browsers: 302 for GET, 303 for other methods."""
    handler, _, _ = build()
    get = call(handler, "/auth/traefik", traefik("https://grafana.example.com/"))
    post = call(handler, "/auth/traefik", traefik("https://grafana.example.com/", method="POST"))
    assert get.status_code == 302
    assert post.status_code == 303
    assert get.headers["location"].startswith("https://auth.example.com/login?rd=")


def test_unauthenticated_api_client_gets_401_with_www_authenticate() -> None:
    """An XHR or JSON client gets 401 + WWW-Authenticate, never a redirect it cannot follow."""
    handler, _, _ = build()
    for headers in (
        traefik("https://grafana.example.com/", Accept="application/json"),
        traefik("https://grafana.example.com/", **{"X-Requested-With": "XMLHttpRequest"}),
    ):
        response = call(handler, "/auth/traefik", headers)
        assert response.status_code == 401
        assert "location" not in response.headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json() == {"decision": "unauthenticated"}


def test_needs_approval_redirects_to_request_page_with_app_and_rd() -> None:
    """An engineer without a grant is sent to the request page for that application."""
    handler, _, _ = build()
    response = call(
        handler, "/auth/traefik", traefik("https://grafana.example.com/x", "alice-token")
    )
    assert response.status_code == 302
    assert response.headers["location"] == (
        "https://auth.example.com/request?app=grafana&rd=https%3A%2F%2Fgrafana.example.com%2Fx"
    )


def test_needs_approval_api_client_gets_403_json_with_request_url() -> None:
    """An API client needing approval gets 403 and the request URL in JSON."""
    handler, _, _ = build()
    headers = traefik("https://grafana.example.com/x", "alice-token", Accept="application/json")
    response = call(handler, "/auth/traefik", headers)
    assert response.status_code == 403
    assert response.json()["decision"] == "needs_approval"
    assert response.json()["request_url"].startswith("https://auth.example.com/request?app=grafana")


def test_active_grant_allows() -> None:
    """An engineer with an active grant is allowed, and the store was asked once."""
    grants = Grants(GrantState(grant_expires_at=NOW + timedelta(minutes=5), grant_id="g1"))
    handler, grants, _ = build(grants)
    response = call(handler, "/auth/nginx", nginx("https://grafana.example.com/", "alice-token"))
    assert response.status_code == 200
    assert grants.calls == 1


def test_redis_down_gives_503_on_approval_apps_only() -> None:
    """With the store down an approval app answers 503, while SRE (no approval) still decides."""
    handler, _, observer = build(Grants(broken=True))
    engineer = call(handler, "/auth/nginx", nginx("https://grafana.example.com/", "alice-token"))
    sre = call(handler, "/auth/nginx", nginx("https://grafana.example.com/", "bob-token"))
    assert engineer.status_code == 503
    assert sre.status_code == 200
    assert observer.decisions[0].reasons[0].value == "grant-state-unavailable"


def test_store_not_asked_when_policy_needs_no_grant() -> None:
    """A plain allow policy never costs a Redis round trip."""
    handler, grants, _ = build()
    call(handler, "/auth/nginx", nginx("https://grafana.example.com/", "bob-token"))
    assert grants.calls == 0


def test_untrusted_caller_gets_400() -> None:
    """Forwarded metadata from an address outside TRUSTED_PROXIES is refused."""
    handler, _, _ = build()
    response = call(
        handler,
        "/auth/nginx",
        nginx("https://grafana.example.com/", "bob-token"),
        client=("203.0.113.9", 4000),
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Original-Method": "GET"},
        {"X-Original-URL": "not a url", "X-Original-Method": "GET"},
        {"X-Original-URL": "ftp://grafana.example.com/", "X-Original-Method": "GET"},
        {"X-Original-URL": "https://grafana.example.com/", "X-Original-Method": "BREW"},
        {"X-Original-URL": "https://user@grafana.example.com/", "X-Original-Method": "GET"},
        {"X-Original-URL": "https://grafana.example.com/a%2Fb", "X-Original-Method": "GET"},
        {"X-Original-URL": "https://grafana.example.com/../../etc", "X-Original-Method": "GET"},
        {"X-Original-URL": "https://gra fana.example.com/", "X-Original-Method": "GET"},
    ],
    ids=[
        "missing-url",
        "relative",
        "ftp",
        "bad-method",
        "userinfo",
        "encoded-slash",
        "above-root",
        "space-in-host",
    ],
)
def test_bad_proxy_metadata_gets_400(headers: dict[str, str]) -> None:
    """Missing or malformed forwarded metadata is a 400, never a decision."""
    handler, _, _ = build()
    assert call(handler, "/auth/nginx", headers).status_code == 400


def test_repeated_forwarded_header_is_ambiguous_and_refused() -> None:
    """Two X-Forwarded-Host headers could mean two hosts: 400."""
    handler, _, _ = build()

    async def go() -> int:
        transport = httpx.ASGITransport(app=handler, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://c") as http:
            request = http.build_request("GET", "/auth/traefik")
            request.headers = httpx.Headers(
                [
                    ("X-Forwarded-Method", "GET"),
                    ("X-Forwarded-Proto", "https"),
                    ("X-Forwarded-Host", "grafana.example.com"),
                    ("X-Forwarded-Host", "evil.example"),
                    ("X-Forwarded-Uri", "/"),
                ]
            )
            return (await http.send(request)).status_code

    assert asyncio.run(go()) == 400


def test_malformed_forwarded_for_gets_400() -> None:
    """A signal reader's BadProxyRequestError becomes a 400."""
    handler, _, _ = build()
    headers = nginx("https://grafana.example.com/", "bob-token", **{"X-Forwarded-For": "garbage"})
    assert call(handler, "/auth/nginx", headers).status_code == 400


def test_unknown_host_is_denied() -> None:
    """A host no application claims is a 403 deny (zero trust), even for a signed-in SRE."""
    handler, _, observer = build()
    response = call(handler, "/auth/nginx", nginx("https://other.example.com/", "bob-token"))
    assert response.status_code == 403
    assert observer.decisions[-1].reasons[0].value == "application-not-found"


def test_dot_segments_route_to_the_normalised_application() -> None:
    """`/healthz/../admin` is judged as `/admin` (Grafana), not as the bypassed health path."""
    handler, _, _ = build()
    response = call(handler, "/auth/nginx", nginx("https://grafana.example.com/healthz/../admin"))
    assert response.status_code == 401
    health = call(handler, "/auth/nginx", nginx("https://grafana.example.com/healthz"))
    assert health.status_code == 200


def test_envoy_reads_method_path_and_query_from_the_check_request() -> None:
    """Envoy's check carries the original method, path and query after the prefix."""
    handler, _, observer = build()
    headers = {
        "Host": "grafana.example.com",
        "Authorization": "Bearer bob-token",
        "X-Forwarded-Proto": "https",
    }
    response = call(handler, "/auth/envoy/d/1?q=a%2Fb", headers, method="POST")
    assert response.status_code == 200
    assert observer.decisions[-1].application == "grafana"


def test_client_identity_headers_are_ignored() -> None:
    """X-Auth-Request-User sent by a client does not make anyone signed in."""
    handler, _, _ = build()
    headers = nginx(
        "https://grafana.example.com/",
        **{"X-Auth-Request-User": "bob@example.com", "Remote-User": "bob@example.com"},
    )
    assert call(handler, "/auth/nginx", headers).status_code == 401


def test_bad_token_is_unauthenticated_not_an_error() -> None:
    """A forged token means no identity: sign in, not 500."""
    handler, _, _ = build()
    response = call(handler, "/auth/nginx", nginx("https://grafana.example.com/", "forged"))
    assert response.status_code == 401


def test_unknown_auth_path_is_404() -> None:
    """Only the three flavours exist under /auth/."""
    handler, _, _ = build()
    assert call(handler, "/auth/apache", nginx("https://grafana.example.com/")).status_code == 404


def test_invalid_utf8_in_forwarded_url_is_400() -> None:
    """Raw bytes that are not a URL (here invalid UTF-8) are bad metadata, not a decision."""
    handler, _, _ = build()

    async def go() -> int:
        transport = httpx.ASGITransport(app=handler, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://c") as http:
            request = http.build_request("GET", "/auth/nginx")
            request.headers = httpx.Headers(
                [
                    (b"X-Original-URL", b"https://grafana.example.com/\xff\xfe"),
                    (b"X-Original-Method", b"GET"),
                ]
            )
            return (await http.send(request)).status_code

    assert asyncio.run(go()) == 400


def test_token_of_64_kb_is_not_an_identity_and_not_an_error() -> None:
    """An oversized bearer token gets the sign-in answer, never a 500."""
    handler, _, _ = build()
    headers = nginx("https://grafana.example.com/", "x" * 65536)
    assert call(handler, "/auth/nginx", headers).status_code == 401


#: Paths a common backend reads as another application: servlet `;params`, double encoding,
#: an encoded `?` that a re-parsing backend cuts at, and Unicode look-alikes of `..`.
AMBIGUOUS_PATHS = {
    "params-on-last-segment": "/healthz;jsessionid=x",
    "params-mid-path": "/healthz;x/d/1",
    "encoded-params": "/healthz%3Bx",
    "double-encoded-dot-dot": "/healthz/%252e%252e/admin",
    "double-encoded-escape": "/healthz/%25%32%65%25%32%65/admin",
    "encoded-question-mark": "/admin%3F/%2e%2e/healthz",
    "fullwidth-dot-dot": "/healthz/%EF%BC%8E%EF%BC%8E/admin",
    "one-dot-leader": "/healthz/%E2%80%A4%E2%80%A4/admin",
    "division-slash": "/healthz%E2%88%95..%E2%88%95admin",
}


def _ambiguous_request(flavour: str, path: str) -> tuple[str, dict[str, str]]:
    """The check request each proxy sends for `https://grafana.example.com{path}`."""
    if flavour == "nginx":
        return "/auth/nginx", nginx(f"https://grafana.example.com{path}")
    if flavour == "traefik":
        return "/auth/traefik", traefik(f"https://grafana.example.com{path}")
    return f"/auth/envoy{path}", {"Host": "grafana.example.com", "Accept": "text/html"}


@pytest.mark.parametrize("path", AMBIGUOUS_PATHS.values(), ids=AMBIGUOUS_PATHS.keys())
@pytest.mark.parametrize("flavour", ["nginx", "traefik", "envoy"])
def test_paths_a_backend_could_read_differently_get_400(flavour: str, path: str) -> None:
    """`;`, double encoding, encoded `?` and look-alike dots are 400 for every flavour."""
    handler, _, observer = build()
    target, headers = _ambiguous_request(flavour, path)
    assert call(handler, target, headers).status_code == 400
    assert observer.decisions == []


def test_envoy_check_path_arrives_raw() -> None:
    """Envoy's check URL keeps `%252e` and `;` as sent, so the raw path is what gets judged."""
    seen: list[bytes] = []
    handler, _, _ = build()

    async def spy(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(scope["raw_path"])
        await handler(scope, receive, send)

    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=spy, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://c") as http:
            headers = {"Host": "grafana.example.com"}
            first = await http.get("/auth/envoy/healthz/%252e%252e/admin", headers=headers)
            second = await http.get("/auth/envoy/healthz;jsessionid=x", headers=headers)
            return [first.status_code, second.status_code]

    assert asyncio.run(go()) == [400, 400]
    assert seen == [b"/auth/envoy/healthz/%252e%252e/admin", b"/auth/envoy/healthz;jsessionid=x"]


def test_non_ascii_path_segments_still_get_a_decision() -> None:
    """`/wiki/Café`, percent-encoded as proxies send it, is judged like any path."""
    handler, _, _ = build()
    path = "/wiki/Caf%C3%A9"
    assert (
        call(handler, "/auth/nginx", nginx(f"https://grafana.example.com{path}")).status_code == 401
    )
    assert (
        call(handler, "/auth/traefik", traefik(f"https://grafana.example.com{path}")).status_code
        == 302
    )
    envoy = {"Host": "grafana.example.com", "Authorization": "Bearer bob-token"}
    assert call(handler, f"/auth/envoy{path}", envoy).status_code == 200


def _sign_in_rd(flavour: str, scheme: str, host: str, uri: str) -> str:
    """The `rd` an anonymous browser asking for `{scheme}://{host}{uri}` is sent to sign in with."""
    handler, _, _ = build()
    if flavour == "nginx":
        response = call(handler, "/auth/nginx", nginx(f"{scheme}://{host}{uri}"))
        assert response.status_code == 401
    elif flavour == "traefik":
        response = call(handler, "/auth/traefik", traefik(f"{scheme}://{host}{uri}"))
        assert response.status_code == 302
    else:
        headers = {"Host": host, "X-Forwarded-Proto": scheme, "Accept": "text/html"}
        response = call(handler, f"/auth/envoy{uri}", headers)
        assert response.status_code == 302
    location = httpx.URL(response.headers["location"])
    assert str(location).startswith("https://auth.example.com/login?")
    return location.params["rd"]


@pytest.mark.parametrize("flavour", ["nginx", "traefik", "envoy"])
def test_rd_keeps_a_non_default_port(flavour: str) -> None:
    """`https://grafana.example.com:8443/d/1?x=1` comes back with its port in `rd`."""
    rd = _sign_in_rd(flavour, "https", "grafana.example.com:8443", "/d/1?x=1")
    assert rd == "https://grafana.example.com:8443/d/1?x=1"


@pytest.mark.parametrize("flavour", ["nginx", "traefik", "envoy"])
@pytest.mark.parametrize(
    ("scheme", "host", "expected"),
    [
        ("https", "Grafana.Example.COM:443", "https://grafana.example.com/d/1"),
        ("http", "grafana.example.com:80", "http://grafana.example.com/d/1"),
        ("http", "grafana.example.com:443", "http://grafana.example.com:443/d/1"),
    ],
    ids=["https-443", "http-80", "http-on-443"],
)
def test_rd_drops_only_the_default_port(
    flavour: str, scheme: str, host: str, expected: str
) -> None:
    """`:443` for https and `:80` for http are dropped; any other port is kept."""
    assert _sign_in_rd(flavour, scheme, host, "/d/1") == expected


@pytest.mark.parametrize("flavour", ["nginx", "traefik", "envoy"])
def test_port_does_not_change_which_application_judges(flavour: str) -> None:
    """Matching uses the bare host: the health bypass holds on :8443 as on the default port."""
    handler, _, observer = build()
    target, headers = _ambiguous_request(flavour, "/healthz")
    if flavour == "nginx":
        headers["X-Original-URL"] = "https://grafana.example.com:8443/healthz"
    elif flavour == "traefik":
        headers["X-Forwarded-Host"] = "grafana.example.com:8443"
    else:
        headers["Host"] = "grafana.example.com:8443"
    assert call(handler, target, headers).status_code == 200
    assert observer.decisions[-1].application == "health"


ZOE = Identity(
    "u-zoe",
    "zoë@example.com",
    frozenset({"sre", "adminsé", "Former admins", "admins,sre", "100%"}),
)


def _as(identity: Identity) -> ForwardAuth:
    """The test handler, with every bearer token meaning `identity`."""
    handler, _, _ = build()

    async def who(headers: Mapping[str, str]) -> tuple[Identity | None, str | None]:
        return (identity, None) if headers.get("authorization") else (None, None)

    return ForwardAuth(
        decisions=handler.decisions,
        identify=who,
        signals=signals,
        is_trusted_peer=handler.is_trusted_peer,
        targets=handler.targets,
    )


def _check(flavour: str, url: str) -> tuple[str, dict[str, str]]:
    """The path and headers each proxy flavour sends to ask about `url` with a token."""
    if flavour == "nginx":
        return "/auth/nginx", nginx(url, "any-token")
    if flavour == "traefik":
        return "/auth/traefik", traefik(url, "any-token")
    host, _, path = url.removeprefix("https://").partition("/")
    headers = {"Host": host, "Authorization": "Bearer any-token", "X-Forwarded-Proto": "https"}
    return f"/auth/envoy/{path}", headers


@pytest.mark.parametrize("flavour", ["nginx", "traefik", "envoy"])
def test_a_non_ascii_identity_reaches_the_app_percent_encoded(flavour: str) -> None:
    """ZOË's `zoë@example.com` arrives as `zo%C3%AB@example.com`, never as `zo@example.com`."""
    path, headers = _check(flavour, "https://grafana.example.com/d/1")
    response = call(_as(ZOE), path, headers)
    assert response.status_code == 200
    assert response.headers["x-auth-request-user"] == "zo%C3%AB@example.com"
    assert response.headers["x-auth-request-email"] == "zo%C3%AB@example.com"
    assert unquote(response.headers["x-auth-request-user"]) == "zoë@example.com"


@pytest.mark.parametrize("flavour", ["nginx", "traefik", "envoy"])
def test_every_group_reaches_the_app_whole(flavour: str) -> None:
    """Groups with a comma, a space, `%` or an accent are encoded one by one, none dropped."""
    path, headers = _check(flavour, "https://grafana.example.com/")
    response = call(_as(ZOE), path, headers)
    assert response.headers["x-auth-request-groups"] == (
        "100%25,Former admins,admins%2Csre,admins%C3%A9,sre"
    )
    sent = response.headers["x-auth-request-groups"].split(",")
    assert {unquote(group) for group in sent} == ZOE.groups


def test_a_percent_in_a_name_cannot_pass_for_another_user() -> None:
    """A subject spelled `bob%40example.com` is sent as `bob%2540example.com`, not BOB's name."""
    sly = Identity("bob%40example.com", None, frozenset({"sre"}))
    response = call(_as(sly), "/auth/nginx", nginx("https://grafana.example.com/", "any-token"))
    assert response.headers["x-auth-request-user"] == "bob%2540example.com"
    assert unquote(response.headers["x-auth-request-user"]) == "bob%40example.com"


@settings(max_examples=60, deadline=None)
@given(
    subject=st.text(min_size=1),
    email=st.none() | st.text(min_size=1),
    groups=st.frozensets(
        st.text(alphabet=st.sampled_from("a,% é\t😀Z"), min_size=1) | st.text(min_size=1)
    ),
)
def test_identity_headers_decode_to_exactly_the_identity(
    subject: str, email: str | None, groups: frozenset[str]
) -> None:
    """For any unicode user, email and groups, percent-decoding the headers gives them back."""
    identity = Identity(subject, email, groups)
    response = call(_as(identity), "/auth/nginx", nginx("https://grafana.example.com/healthz", "t"))
    assert response.status_code == 200
    sent = response.headers
    assert unquote(sent["x-auth-request-user"]) == identity.user
    assert unquote(sent["x-auth-request-email"]) == (email or "")
    value = sent["x-auth-request-groups"]
    assert {unquote(group) for group in value.split(",") if value} == groups
