"""The raw ASGI transport: what is particular to each HTTP flavour (shared rules: test_rules)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.adapters.forward_auth.handler import ForwardAuth
from app.core.context import Identity
from tests.adapters.forward_auth.scenario import (
    build,
    call,
    nginx,
    signals,
    traefik,
)


def test_allow_sends_identity_headers_and_no_store() -> None:
    """An allowed SRE gets 200 with X-Auth-Request-* and Cache-Control: no-store."""
    handler, _, _ = build()
    response = call(handler, "/auth/nginx", nginx("https://grafana.example.com/d/1", "bob-token"))
    assert response.status_code == 200
    assert response.headers["x-auth-request-user"] == "bob@example.com"
    assert response.headers["x-auth-request-email"] == "bob@example.com"
    assert response.headers["x-auth-request-groups"] == "sre,sre-leads"
    assert response.headers["cache-control"] == "no-store"


def test_unauthenticated_browser_nginx_gets_401_with_absolute_location() -> None:
    """nginx cannot pass a redirect through auth_request, so sign-in is 401 + Location."""
    handler, _, _ = build()
    response = call(handler, "/auth/nginx", nginx("https://grafana.example.com/d/1?x=1"))
    assert response.status_code == 401
    assert response.headers["location"] == (
        "https://auth.example.com/login?rd=https%3A%2F%2Fgrafana.example.com%2Fd%2F1%3Fx%3D1"
    )


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
        decisions=handler.checker.decisions,
        identify=who,
        signals=signals,
        is_trusted_peer=handler.checker.is_trusted_peer,
        targets=handler.checker.targets,
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
