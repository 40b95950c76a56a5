"""Sign-in with a real OpenID provider (oidc-provider-mock on loopback), through the whole
service built in-process with a real Redis: the happy path to a forward-auth allow, and every
way a callback can be wrong, none of which may ever set a session."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import redis as redis_client

from app.adapters.signin.flows import flow_key
from app.adapters.signin.routes import BINDING_COOKIE
from app.web import CountersignApp
from tests.adapters.identity.tokens import jwks_server
from tests.adapters.signin.app import (
    PUBLIC_URL,
    WIKI,
    browser,
    build_app,
    csrf_of,
    environment,
    forward_auth,
    path_and_query,
    query,
)
from tests.support.oidc_provider import OidcProvider
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.redis

ALICE = {"email": "alice@example.com", "email_verified": True, "groups": ["engineers"]}
SESSION_COOKIE = "countersign_session"
Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


@pytest.fixture
def app(tmp_path: Path, provider: OidcProvider, redis: RedisServer) -> CountersignApp:
    """The service, signing people in at the provider."""
    provider.set_user("u-alice", ALICE)
    return build_app(environment(tmp_path, redis_url=redis.url, issuer=provider.issuer))


def run(app: CountersignApp, scenario: Scenario) -> None:
    async def go() -> None:
        async with browser(app) as client:
            await scenario(client)

    asyncio.run(go())


async def start(client: httpx.AsyncClient, rd: str = WIKI, **params: str) -> str:
    """GET /login; the provider's authorization URL."""
    response = await client.get("/login", params={"rd": rd, **params})
    assert response.status_code == 302, response.text
    return response.headers["location"]


def callback_of(provider: OidcProvider, location: str, sub: str = "u-alice") -> str:
    """Sign in at the provider; the callback path it redirects to."""
    answer = provider.authorize(location, sub)
    assert answer.status_code == 302, answer.text
    return path_and_query(answer.headers["location"])


def has_session(response: httpx.Response) -> bool:
    return any(SESSION_COOKIE in value for value in response.headers.get_list("set-cookie"))


def test_sign_in_then_forward_auth_allows(app: CountersignApp, provider: OidcProvider) -> None:
    """ALICE signs in at the provider, lands back on the wiki, and her session is allowed."""

    async def scenario(client: httpx.AsyncClient) -> None:
        location = await start(client)
        params = query(location)
        assert location.startswith(provider.issuer + "/oauth2/authorize")
        assert params["code_challenge_method"] == "S256"
        assert params["redirect_uri"] == PUBLIC_URL + "/login/callback"
        assert {"state", "nonce", "code_challenge"} <= params.keys()
        done = await client.get(callback_of(provider, location))
        assert done.status_code == 303
        assert done.headers["location"] == WIKI
        assert has_session(done)
        allowed = await forward_auth(client)
        assert allowed.status_code == 200
        assert allowed.headers["x-auth-request-email"] == "alice@example.com"

    run(app, scenario)


def test_browser_without_session_is_sent_to_sign_in(app: CountersignApp) -> None:
    """Forward-auth sends a browser with no session to /login with the page as rd."""

    async def scenario(client: httpx.AsyncClient) -> None:
        response = await forward_auth(client)
        assert response.status_code == 401
        assert response.headers["location"].startswith(PUBLIC_URL + "/login?")
        assert query(response.headers["location"])["rd"] == WIKI

    run(app, scenario)


def test_api_client_without_session_gets_401_with_challenge(app: CountersignApp) -> None:
    """An API client gets 401 + WWW-Authenticate, no redirect."""

    async def scenario(client: httpx.AsyncClient) -> None:
        response = await forward_auth(client, accept="application/json")
        assert response.status_code == 401
        assert "www-authenticate" in response.headers
        assert "location" not in response.headers

    run(app, scenario)


def test_login_sets_a_lax_httponly_binding_cookie_on_login_path(app: CountersignApp) -> None:
    """/login binds the flow to this browser with a short-lived cookie only /login sees."""

    async def scenario(client: httpx.AsyncClient) -> None:
        response = await client.get("/login", params={"rd": WIKI})
        cookie = next(
            v for v in response.headers.get_list("set-cookie") if v.startswith(BINDING_COOKIE)
        )
        lowered = cookie.lower()
        assert "httponly" in lowered
        assert "samesite=lax" in lowered
        assert "path=/login" in lowered
        assert "max-age=600" in lowered

    run(app, scenario)


def test_callback_without_state_is_refused(app: CountersignApp) -> None:
    """A callback with no state is a 400 page and no session."""

    async def scenario(client: httpx.AsyncClient) -> None:
        response = await client.get("/login/callback", params={"code": "x"})
        assert response.status_code == 400
        assert "state-missing" in response.text
        assert not has_session(response)

    run(app, scenario)


def test_callback_with_unknown_state_is_refused(
    app: CountersignApp, provider: OidcProvider
) -> None:
    """A state this service never issued (or changed on the way) is refused."""

    async def scenario(client: httpx.AsyncClient) -> None:
        callback = callback_of(provider, await start(client))
        tampered = callback.replace("state=", "state=x")
        response = await client.get(tampered)
        assert response.status_code == 400
        assert "state-unknown" in response.text
        assert not has_session(response)

    run(app, scenario)


def test_replayed_callback_is_refused(app: CountersignApp, provider: OidcProvider) -> None:
    """The same callback twice: the second finds its flow used up."""

    async def scenario(client: httpx.AsyncClient) -> None:
        callback = callback_of(provider, await start(client))
        assert (await client.get(callback)).status_code == 303
        again = await client.get(callback)
        assert again.status_code == 400
        assert "state-unknown" in again.text
        assert not has_session(again)

    run(app, scenario)


def test_replayed_code_is_refused_by_the_provider(
    app: CountersignApp, provider: OidcProvider
) -> None:
    """A used code under a fresh state is refused at the token endpoint: no session."""

    async def scenario(client: httpx.AsyncClient) -> None:
        first = callback_of(provider, await start(client))
        assert (await client.get(first)).status_code == 303
        fresh_state = query(await start(client))["state"]
        used_code = query(first)["code"]
        response = await client.get(
            "/login/callback", params={"code": used_code, "state": fresh_state}
        )
        assert response.status_code == 400
        assert "code-rejected" in response.text
        assert not has_session(response)

    run(app, scenario)


def test_callback_without_binding_cookie_is_refused(
    app: CountersignApp, provider: OidcProvider
) -> None:
    """Login CSRF: a callback from a browser that did not start the flow (no cookie)."""

    async def scenario(client: httpx.AsyncClient) -> None:
        callback = callback_of(provider, await start(client))
        client.cookies.delete(BINDING_COOKIE)
        response = await client.get(callback)
        assert response.status_code == 400
        assert "binding-missing" in response.text
        assert not has_session(response)

    run(app, scenario)


def test_callback_in_another_browser_is_refused(
    app: CountersignApp, provider: OidcProvider
) -> None:
    """Login CSRF: MALLORY's finished sign-in, replayed in ALICE's browser, is refused."""

    async def scenario(client: httpx.AsyncClient) -> None:
        async with browser(app) as mallory:
            callback = callback_of(provider, await start(mallory))
        await start(client)  # ALICE has a binding cookie of her own
        response = await client.get(callback)
        assert response.status_code == 400
        assert "binding-mismatch" in response.text
        assert not has_session(response)

    run(app, scenario)


def test_nonce_mismatch_is_refused(
    app: CountersignApp, provider: OidcProvider, redis: RedisServer
) -> None:
    """An ID token whose nonce is not the flow's own is refused."""

    async def scenario(client: httpx.AsyncClient) -> None:
        location = await start(client)
        key = flow_key(query(location)["state"])
        store = redis_client.Redis.from_url(redis.url)
        stored = json.loads(store.get(key))
        store.set(key, json.dumps({**stored, "nonce": "not-the-nonce"}), ex=600)
        store.close()
        response = await client.get(callback_of(provider, location))
        assert response.status_code == 400
        assert "nonce-mismatch" in response.text
        assert not has_session(response)

    run(app, scenario)


def test_issuer_mix_up_in_callback_is_refused(app: CountersignApp, provider: OidcProvider) -> None:
    """RFC 9207: a callback naming another issuer is refused."""

    async def scenario(client: httpx.AsyncClient) -> None:
        callback = callback_of(provider, await start(client))
        response = await client.get(callback + "&iss=https%3A%2F%2Fevil.example")
        assert response.status_code == 400
        assert "issuer-mismatch" in response.text
        assert not has_session(response)

    run(app, scenario)


def test_provider_error_is_shown_without_session(app: CountersignApp) -> None:
    """The provider's `error=access_denied` is a 400 page."""

    async def scenario(client: httpx.AsyncClient) -> None:
        state = query(await start(client))["state"]
        response = await client.get(
            "/login/callback", params={"error": "access_denied", "state": state}
        )
        assert response.status_code == 400
        assert "provider-refused" in response.text
        assert not has_session(response)

    run(app, scenario)


def test_off_site_rd_is_replaced_by_our_home(app: CountersignApp, provider: OidcProvider) -> None:
    """/login?rd=https://evil.example/ signs in and lands on Countersign's own home."""

    async def scenario(client: httpx.AsyncClient) -> None:
        location = await start(client, rd="https://evil.example/")
        done = await client.get(callback_of(provider, location))
        assert done.status_code == 303
        assert done.headers["location"] == PUBLIC_URL + "/"

    run(app, scenario)


def test_provider_down_is_a_502_page(tmp_path: Path, redis: RedisServer) -> None:
    """With the provider unreachable, /login answers a 502 page, not a redirect."""
    app = build_app(
        environment(tmp_path, redis_url=redis.url, issuer=f"http://127.0.0.1:{free_port()}")
    )

    async def scenario(client: httpx.AsyncClient) -> None:
        response = await client.get("/login", params={"rd": WIKI})
        assert response.status_code == 502
        assert "provider-unavailable" in response.text

    run(app, scenario)


def test_provider_answering_junk_is_a_502_page(tmp_path: Path, redis: RedisServer) -> None:
    """A discovery document that is not JSON is a 502 page."""
    with jwks_server() as junk:
        junk.status, junk.body = 200, b"<html>maintenance</html>"
        issuer = junk.url.removesuffix("/jwks.json")
        app = build_app(environment(tmp_path, redis_url=redis.url, issuer=issuer))

        async def scenario(client: httpx.AsyncClient) -> None:
            response = await client.get("/login", params={"rd": WIKI})
            assert response.status_code == 502

        run(app, scenario)


def test_get_logout_only_asks(app: CountersignApp, provider: OidcProvider) -> None:
    """GET /logout shows a confirmation form and leaves the session alone."""

    async def scenario(client: httpx.AsyncClient) -> None:
        await client.get(callback_of(provider, await start(client)))
        page = await client.get("/logout")
        assert page.status_code == 200
        assert 'method="post"' in page.text
        assert (await forward_auth(client)).status_code == 200

    run(app, scenario)


def test_logout_ends_session_and_old_cookie_is_refused(
    app: CountersignApp, provider: OidcProvider
) -> None:
    """POST /logout ends the session at the provider too; the old cookie no longer works."""

    async def scenario(client: httpx.AsyncClient) -> None:
        await client.get(callback_of(provider, await start(client)))
        old_cookie = client.cookies.get(SESSION_COOKIE)
        assert old_cookie
        csrf = csrf_of((await client.get("/logout")).text)
        out = await client.post("/logout", data={"csrf": csrf, "rd": WIKI})
        assert out.status_code == 303
        target = out.headers["location"]
        assert target.startswith(provider.issuer + "/oauth2/end_session?")
        assert query(target)["post_logout_redirect_uri"] == PUBLIC_URL + "/logout/done"
        client.cookies.set(SESSION_COOKIE, old_cookie, domain="auth.example.com")
        refused = await forward_auth(client)
        assert refused.status_code == 401

    run(app, scenario)


def test_logout_post_without_form_token_is_refused(
    app: CountersignApp, provider: OidcProvider
) -> None:
    """A cross-site POST /logout (no form token) ends nothing."""

    async def scenario(client: httpx.AsyncClient) -> None:
        await client.get(callback_of(provider, await start(client)))
        response = await client.post("/logout", data={"rd": WIKI})
        assert response.status_code == 403
        assert (await forward_auth(client)).status_code == 200

    run(app, scenario)


def test_off_site_rd_after_logout_is_not_followed(app: CountersignApp) -> None:
    """/logout/done never redirects off-site: a signed-out page instead."""

    async def scenario(client: httpx.AsyncClient) -> None:
        evil = await client.get("/logout/done", params={"state": "https://evil.example/"})
        assert evil.status_code == 200
        assert "signed out" in evil.text
        good = await client.get("/logout/done", params={"state": WIKI})
        assert good.status_code == 303
        assert good.headers["location"] == WIKI

    run(app, scenario)


def test_login_without_any_sign_in_says_not_configured(tmp_path: Path, redis: RedisServer) -> None:
    """Neither OIDC nor dev mode: /login is a clear 401 page."""
    app = build_app(environment(tmp_path, redis_url=redis.url, issuer=None))

    async def scenario(client: httpx.AsyncClient) -> None:
        response = await client.get("/login", params={"rd": WIKI})
        assert response.status_code == 401
        assert "signin-not-configured" in response.text

    run(app, scenario)
