"""Envoy's gRPC ext_authz: a real grpc.aio listener on loopback, asked by a real client channel
with the CheckRequest protos Envoy sends. (The shared rules run for gRPC too: test_rules.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.adapters.forward_auth.answers import Answer
from app.adapters.forward_auth.check import Checker
from app.adapters.forward_auth.flavours.envoy_grpc import (
    GRPC_OK,
    GRPC_PERMISSION_DENIED,
    GRPC_UNAUTHENTICATED,
    OWNED_HEADERS,
    verdict_for,
)
from app.adapters.forward_auth.grpc.server import MAX_MESSAGE_BYTES
from app.core.context import Identity
from tests.adapters.forward_auth.grpc_support import (
    API,
    BROWSER,
    CHECK_PATH,
    GRAFANA,
    HEALTH,
    OVERWRITE,
    Seen,
    ask,
    bearer,
    call,
    checker,
    envoy_request,
    serving,
)
from tests.adapters.forward_auth.scenario import Grants, build


def test_allow_sets_identity_headers_overwriting_any_copy() -> None:
    """BOB is allowed: OK, and each X-Auth-Request-* replaces whatever the client sent."""
    result = ask(GRAFANA, bearer("bob-token"))
    assert result.grpc_code == GRPC_OK
    assert result.headers == {
        "x-auth-request-user": "bob@example.com",
        "x-auth-request-email": "bob@example.com",
        "x-auth-request-groups": "sre,sre-leads",
    }
    assert set(result.actions.values()) == {OVERWRITE}


def test_allow_removes_every_owned_identity_header_it_does_not_set() -> None:
    """No assertion is signed here: a client's X-Countersign-Assertion is removed upstream."""
    result = ask(GRAFANA, bearer("bob-token"))
    assert result.remove == ("x-countersign-assertion",)


def test_allow_without_identity_removes_all_owned_identity_headers() -> None:
    """The bypassed health path sets no identity, so a forged one cannot survive to the app."""
    result = ask(HEALTH, {"x-auth-request-user": "bob@example.com", **API})
    assert result.allowed
    assert result.headers == {}
    assert set(result.remove) == set(OWNED_HEADERS)
    assert len(OWNED_HEADERS) == 4


def test_allow_headers_never_include_the_answer_cache_control() -> None:
    """Cache-Control: no-store is for the proxy, not a header to add to the app's request."""
    assert "cache-control" not in ask(GRAFANA, bearer("bob-token")).headers


def test_deny_to_an_api_client_is_permission_denied_403_json() -> None:
    """MALLORY is blocked: PERMISSION_DENIED, 403, a JSON body, never OK."""
    result = ask(GRAFANA, bearer("mallory-token"))
    assert result.grpc_code == GRPC_PERMISSION_DENIED
    assert result.status == 403
    assert json.loads(result.body) == {"decision": "deny"}
    assert result.headers["content-type"] == "application/json"


def test_deny_to_a_browser_carries_the_refusal_page_as_the_body() -> None:
    """A denied browser gets Countersign's page (why, whom to ask) in the denied response."""
    result = ask(GRAFANA, bearer("mallory-token", BROWSER), via=checker(page=True))
    assert result.status == 403
    assert result.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in result.headers
    assert b"<html" in result.body.lower()


def test_denied_responses_leave_content_length_to_envoy() -> None:
    """Envoy sets Content-Length for the body it sends: the answer carries none."""
    result = ask(GRAFANA, bearer("mallory-token", BROWSER), via=checker(page=True))
    assert "content-length" not in result.headers


def test_an_unauthenticated_browser_is_redirected_to_sign_in_with_rd() -> None:
    """302 with Location to the sign-in page carrying the original URL in `rd`."""
    result = ask(GRAFANA, BROWSER)
    assert result.grpc_code == GRPC_PERMISSION_DENIED
    assert result.status == 302
    location = result.headers["location"]
    assert location.startswith("https://auth.example.com/login?")
    assert parse_qs(urlsplit(location).query)["rd"] == [GRAFANA]


def test_an_unauthenticated_form_post_is_redirected_with_303() -> None:
    """A browser's POST is sent on with 303 so it arrives at sign-in as a GET."""
    assert ask(GRAFANA, BROWSER, method="POST").status == 303


def test_an_unauthenticated_api_client_is_unauthenticated_401() -> None:
    """An API client gets UNAUTHENTICATED, 401 with WWW-Authenticate, no Location."""
    result = ask(GRAFANA, API)
    assert result.grpc_code == GRPC_UNAUTHENTICATED
    assert result.status == 401
    assert result.headers["www-authenticate"].startswith("Bearer")
    assert "location" not in result.headers


def test_needs_approval_redirects_a_browser_to_the_request_page() -> None:
    """ALICE needs approval for Grafana: 302 to its request page, with `rd`."""
    result = ask(GRAFANA, bearer("alice-token", BROWSER))
    assert result.status == 302
    query = parse_qs(urlsplit(result.headers["location"]).query)
    assert result.headers["location"].startswith("https://auth.example.com/request?")
    assert query == {"app": ["grafana"], "rd": [GRAFANA]}


def test_needs_approval_tells_an_api_client_where_to_ask_with_403() -> None:
    """An API client gets 403 JSON naming the request page."""
    result = ask(GRAFANA, bearer("alice-token"))
    assert result.grpc_code == GRPC_PERMISSION_DENIED
    assert result.status == 403
    assert json.loads(result.body)["request_url"].startswith("https://auth.example.com/request?")


def test_bytes_that_are_no_check_request_get_a_denied_400() -> None:
    """A message that does not parse is answered 400 (denied), not with an error or OK."""

    async def go() -> bytes:
        async with serving(checker()) as (_, channel):
            check = channel.unary_unary(CHECK_PATH)
            return bytes(await check(b"\xff\xff\xff", timeout=10))

    from envoy.service.auth.v3.external_auth_pb2 import CheckResponse  # noqa: PLC0415

    response = CheckResponse.FromString(asyncio.run(go()))
    assert response.status.code == GRPC_PERMISSION_DENIED
    assert response.denied_response.status.code == 400


def test_an_oversized_check_is_refused_by_the_listener() -> None:
    """A CheckRequest past the message limit is refused (RESOURCE_EXHAUSTED): Envoy denies."""
    request = envoy_request(GRAFANA, headers={"cookie": "x" * MAX_MESSAGE_BYTES, **API})

    async def go() -> grpc.StatusCode:
        async with serving(checker()) as (_, channel):
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await call(channel, request)
            return error.value.code()

    assert asyncio.run(go()) is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_an_error_inside_the_pipeline_is_a_denied_503_never_ok() -> None:
    """Identity lookup blowing up is a denial (503), logged, never OK."""

    async def explode(headers: Mapping[str, str]) -> tuple[Identity | None, str | None]:
        raise RuntimeError("identity provider exploded")

    base = checker()
    broken = Checker(
        decisions=base.decisions,
        identify=explode,
        signals=base.signals,
        is_trusted_peer=base.is_trusted_peer,
        targets=base.targets,
    )
    result = ask(GRAFANA, bearer("bob-token"), via=broken)
    assert result.grpc_code == GRPC_PERMISSION_DENIED
    assert result.status == 503


def test_grant_store_down_on_an_approval_app_is_a_denied_503() -> None:
    """Redis down where a grant is needed: cannot decide, so 503, never OK."""
    handler, _, _ = build(Grants(broken=True))
    result = ask(GRAFANA, bearer("alice-token"), via=handler.checker)
    assert result.grpc_code == GRPC_PERMISSION_DENIED
    assert result.status == 503


def test_checks_on_one_connection_run_concurrently() -> None:
    """Many checks in flight on one channel all get their own answer."""

    async def go() -> list[Seen]:
        async with serving(checker()) as (_, channel):
            tokens = ["bob-token", "mallory-token"] * 20
            return await asyncio.gather(
                *(call(channel, envoy_request(GRAFANA, headers=bearer(t))) for t in tokens)
            )

    results = asyncio.run(go())
    assert [r.status for r in results] == [200, 403] * 20


@given(
    status=st.integers(min_value=100, max_value=599),
    headers=st.lists(
        st.tuples(
            st.sampled_from([*OWNED_HEADERS, "cache-control", "location", "set-cookie", "x-other"]),
            st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
        ),
        max_size=6,
    ),
)
def test_only_a_200_is_ever_ok_and_it_sets_only_identity_headers(
    status: int, headers: list[tuple[str, str]]
) -> None:
    """Whatever the answer, gRPC OK means exactly a 200, which sets nothing but the identity
    headers Countersign owns and never removes one it sets."""
    answer = Answer(status, [(n.encode(), v.encode()) for n, v in headers], b"{}")
    verdict = verdict_for(answer)
    assert verdict.allowed == (status == 200)
    if verdict.allowed:
        assert {name for name, _ in verdict.headers} <= set(OWNED_HEADERS)
        assert not {name for name, _ in verdict.headers} & set(verdict.remove)
        assert {name for name, _ in verdict.headers} | set(verdict.remove) == set(OWNED_HEADERS)
    else:
        assert verdict.code in (GRPC_PERMISSION_DENIED, GRPC_UNAUTHENTICATED)
        assert verdict.status == status
