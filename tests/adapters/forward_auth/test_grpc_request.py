"""What Envoy's CheckRequest becomes: the peer, the original request from the check's own fields
(never from pseudo-headers or a Host line), and header lines judged as over HTTP, in both of
Envoy's header forms (header_map, and the joined `headers` map)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from app.adapters.forward_auth.check import Checker
from app.adapters.forward_auth.flavours.envoy_grpc import (
    GRPC_PERMISSION_DENIED,
    peer_address,
)
from app.adapters.http_limits import MAX_HEADER_COUNT
from tests.adapters.forward_auth.grpc_support import (
    API,
    BROWSER,
    GRAFANA,
    ask,
    ask_over_loopback,
    ask_servicer,
    bearer,
    checker,
    envoy_request,
)
from tests.adapters.forward_auth.scenario import build


def test_an_untrusted_peer_gets_a_denied_400() -> None:
    """A caller outside TRUSTED_PROXIES gets 400 and no decision, even with a good token."""
    handler, _, observer = build()
    result = ask_servicer(
        handler.checker, envoy_request(GRAFANA, headers=bearer("bob-token")), peer="203.0.113.9"
    )
    assert result.grpc_code == GRPC_PERMISSION_DENIED
    assert result.status == 400
    assert observer.decisions == []


def test_the_peer_judged_is_envoys_bare_address() -> None:
    """The trusted-proxy check sees `127.0.0.1`, as for HTTP, not gRPC's `ipv4:...:port`."""
    peers: list[str] = []

    def trusted(peer: str) -> bool:
        peers.append(peer)
        return peer == "127.0.0.1"

    base = checker()
    judged = Checker(
        decisions=base.decisions,
        identify=base.identify,
        signals=base.signals,
        is_trusted_peer=trusted,
        targets=base.targets,
    )
    assert ask(GRAFANA, bearer("bob-token"), via=judged).allowed
    assert peers == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:127.0.0.1:5000", "127.0.0.1"),
        ("ipv6:%5B::1%5D:5000", "::1"),
        ("ipv6:[2001:db8::7]:443", "2001:db8::7"),
        ("unix:/run/envoy.sock", ""),
        ("ipv6:::1", ""),
        ("", ""),
    ],
)
def test_grpc_peer_strings_become_bare_addresses(peer: str, address: str) -> None:
    """gRPC's peer string is read down to the address; anything else is "" (never trusted)."""
    assert peer_address(peer) == address


@pytest.mark.parametrize("raw", [True, False], ids=["header_map", "headers"])
def test_pseudo_headers_never_stand_in_for_the_checked_request(raw: bool) -> None:
    """`:path`/`:authority` header lines do not move the check: the attributes decide."""
    request = envoy_request(GRAFANA, headers=BROWSER, raw=raw)
    http = request.attributes.request.http
    if raw:
        for header in http.header_map.headers:
            if header.key == ":path":
                header.raw_value = b"/healthz"
    else:
        http.headers[":path"] = "/healthz"
    result = ask_over_loopback(checker(), request)
    assert not result.allowed
    assert result.status == 302


def test_a_host_header_line_does_not_replace_envoys_authority() -> None:
    """An ordinary `host` line beside :authority does not choose the application."""
    result = ask(
        "https://other.example.com/healthz", {"host": "grafana.example.com", **API}, raw=True
    )
    assert result.status == 403


@pytest.mark.parametrize("name", ["authorization", "x-forwarded-for", "x-forwarded-proto"])
def test_a_repeated_header_line_in_header_map_is_ambiguous(name: str) -> None:
    """With header_map every line is seen: a repeated identity or forwarding header is 400."""
    value = {"authorization": "Bearer bob-token", "x-forwarded-for": "10.0.0.1"}.get(name, "https")
    result = ask(GRAFANA, [(name, value), (name, value), *API.items()], raw=True)
    assert result.status == 400


def test_repeated_cookie_lines_are_joined() -> None:
    """Cookie lines (HTTP/2 splits them) are one Cookie, as over HTTP: no 400."""
    result = ask(GRAFANA, [("cookie", "a=1"), ("cookie", "b=2"), *bearer("bob-token").items()])
    assert result.allowed


def test_a_joined_forwarding_header_in_the_headers_map_is_ambiguous() -> None:
    """Envoy's `headers` map joins repeats with ",": a comma in X-Forwarded-Proto is a 400."""
    headers = [("x-forwarded-proto", "https"), ("x-forwarded-proto", "http")]
    result = ask(GRAFANA, [*headers, *bearer("bob-token").items()], raw=False)
    assert result.status == 400


def test_a_joined_authorization_in_the_headers_map_signs_nobody_in() -> None:
    """Two bearer tokens joined by Envoy are no valid token: the caller is not signed in."""
    headers = [("authorization", "Bearer bob-token"), ("authorization", "Bearer alice-token")]
    result = ask(GRAFANA, [*headers, *API.items()], raw=False)
    assert not result.allowed
    assert result.status == 401


def test_the_scheme_is_envoys_not_a_forwarded_header() -> None:
    """http.scheme wins over X-Forwarded-Proto: the `rd` keeps the scheme Envoy saw."""
    result = ask("http://grafana.example.com/d/1", {"x-forwarded-proto": "https", **BROWSER})
    assert parse_qs(urlsplit(result.headers["location"]).query)["rd"] == [
        "http://grafana.example.com/d/1"
    ]


def test_x_forwarded_proto_is_read_when_envoy_sends_no_scheme() -> None:
    """Without http.scheme, X-Forwarded-Proto gives the scheme of `rd`."""
    request = envoy_request(
        "http://grafana.example.com/d/1", headers={"x-forwarded-proto": "https", **BROWSER}
    )
    request.attributes.request.http.scheme = ""
    result = ask_over_loopback(checker(), request)
    assert parse_qs(urlsplit(result.headers["location"]).query)["rd"] == [
        "https://grafana.example.com/d/1"
    ]


def test_a_check_with_both_header_forms_is_refused() -> None:
    """header_map and the headers map together are ambiguous: 400."""
    request = envoy_request(GRAFANA, headers=bearer("bob-token"), raw=True)
    request.attributes.request.http.headers["authorization"] = "Bearer alice-token"
    assert ask_over_loopback(checker(), request).status == 400


def test_too_many_header_lines_are_refused() -> None:
    """More lines than the HTTP limit allows: 400, as over HTTP."""
    lines = [(f"x-filler-{i}", "1") for i in range(MAX_HEADER_COUNT + 1)]
    assert ask(GRAFANA, [*lines, *bearer("bob-token").items()]).status == 400


def test_a_check_without_the_original_request_is_refused() -> None:
    """A CheckRequest without method, host or path is not a check: 400, never OK."""
    handler, _, _ = build()
    request = envoy_request(GRAFANA, headers=bearer("bob-token"))
    request.attributes.request.http.host = ""
    assert ask_over_loopback(handler.checker, request).status == 400
