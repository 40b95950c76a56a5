"""The dev login page: lists users escaped, refuses cross-site posts and open redirects, and
starts a Countersign session for the dev user (the dev issuer is the person's issuer)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from app.adapters.dev.issuer import DevIssuer
from app.adapters.dev.login import CSRF_COOKIE, dev_router
from app.adapters.identity.verifier import JwtVerifier
from app.adapters.sessions.keys import keys_from_settings
from app.adapters.sessions.manager import CookiePolicy, SessionManager
from app.adapters.sessions.revocations import SessionRevocations
from app.adapters.sessions.tokens import trusted_session_issuer
from app.config import load_settings

NOW = 1_714_989_600.0
T = TypeVar("T")
USERS = """
users:
  - email: alice@example.com
    name: Alice
    groups: [engineers]
    amr: [pwd, mfa]
    device: {managed: true, tags: [disk-encrypted]}
    country: DE
  - email: bob@example.com
    name: "Bob <script>alert(1)</script>"
    groups: [sre, sre-leads]
  - email: mallory@contractor.example
    groups: [contractors]
"""
SAFE_HOSTS = ("https://grafana.example.com/",)
FORM = {"content-type": "application/x-www-form-urlencoded"}


def is_safe(url: str) -> bool:
    return url.startswith(SAFE_HOSTS) or (url.startswith("/") and not url.startswith("//"))


class Site:
    """The dev router mounted in an app, reached in-process over ASGI with a cookie jar."""

    def __init__(self, tmp_path: Path, public_url: str = "http://testserver") -> None:
        users = tmp_path / "dev-users.yaml"
        self.settings = load_settings(
            {
                "COUNTERSIGN_PUBLIC_URL": public_url,
                "COUNTERSIGN_DATA_DIR": str(tmp_path / "var"),
                "COUNTERSIGN_DEV_USERS": str(users),
                "COUNTERSIGN_DEV": "true",
            }
        )
        self.issuer = DevIssuer.load_or_create(self.settings.server.data_dir, public_url=public_url)
        keys = keys_from_settings(
            self.settings.sessions, dev_data_dir=self.settings.server.data_dir, oidc=False
        )
        assert keys is not None
        self.verifier = JwtVerifier(
            [trusted_session_issuer(keys, issuer=public_url)], clock=lambda: NOW
        )
        sessions = SessionManager(
            keys=keys,
            revocations=SessionRevocations(None),  # signing in never reaches the store
            issuer=public_url,
            cookie=CookiePolicy.from_settings(
                self.settings.sessions,
                name=self.settings.identity.cookie_name,
                secure=self.settings.server.public_is_https,
            ),
            ttl=self.settings.sessions.ttl,
            leeway=30.0,
            verify=self.verifier.verify,
            clock=lambda: NOW,
        )
        self.app = FastAPI()
        self.app.include_router(
            dev_router(
                issuer=self.issuer,
                server=self.settings.server,
                dev=self.settings.dev,
                claims=self.settings.identity.claims,
                is_safe_redirect=is_safe,
                sessions=sessions,
                clock=lambda: NOW,
            )
        )
        self.public_url = public_url

    def run(self, steps: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
        async def scenario() -> T:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url=self.public_url) as client:
                return await steps(client)

        return asyncio.run(scenario())


@pytest.fixture
def site(tmp_path: Path) -> Site:
    (tmp_path / "dev-users.yaml").write_text(USERS)
    return Site(tmp_path)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert match is not None
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, email: str, rd: str = "") -> httpx.Response:
    page = await client.get("/dev/login", params={"rd": rd} if rd else None)
    body = urlencode({"email": email, "rd": rd, "csrf": csrf_of(page.text)})
    return await client.post("/dev/login", content=body, headers=FORM)


def test_login_page_lists_the_dev_users(site: Site) -> None:
    """Every user of dev-users.yaml gets a sign-in button; the page says it is dev mode."""
    page = site.run(lambda c: c.get("/dev/login"))
    assert page.status_code == 200
    assert "DEVELOPMENT MODE" in page.text
    for email in ("alice@example.com", "bob@example.com", "mallory@contractor.example"):
        assert f'value="{email}"' in page.text
    assert page.headers["cache-control"] == "no-store"


def test_login_page_escapes_what_it_shows(site: Site) -> None:
    """A user name holding markup is shown as text, and so is a hostile rd."""
    page = site.run(lambda c: c.get("/dev/login", params={"rd": '"><script>x()</script>'}))
    assert "<script>" not in page.text
    assert "Bob &lt;script&gt;" in page.text
    assert 'value="&quot;&gt;&lt;script&gt;' in page.text


def test_missing_users_file_is_explained(tmp_path: Path) -> None:
    """Without dev-users.yaml the page still renders, empty, and says where to add users."""
    page = Site(tmp_path).run(lambda c: c.get("/dev/login"))
    assert page.status_code == 200
    assert "does not exist yet" in page.text
    assert "No users to sign in as." in page.text


def test_alice_signs_in_and_returns_to_her_app(site: Site) -> None:
    """A valid post sets an HttpOnly, SameSite=Lax session cookie for the dev issuer's person,
    with her device posture, and 303s back to rd."""
    answer = site.run(lambda c: sign_in(c, "alice@example.com", "https://grafana.example.com/d/1"))
    assert answer.status_code == 303
    assert answer.headers["location"] == "https://grafana.example.com/d/1"
    cookie = next(
        h for h in answer.headers.get_list("set-cookie") if h.startswith("countersign_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is http here
    assert "Max-Age=43200" in cookie  # COUNTERSIGN_SESSION_TTL, 12h by default
    token = cookie.split(";")[0].split("=", 1)[1]
    identity = asyncio.run(site.verifier.verify(token))
    assert (identity.issuer, identity.subject) == (site.issuer.issuer, "alice@example.com")
    assert identity.claims["iss"] == site.public_url
    assert identity.email == "alice@example.com"
    assert identity.amr == frozenset({"pwd", "mfa"})
    assert identity.claims["auth_time"] == int(NOW)
    assert identity.claims["device_managed"] is True
    assert identity.claims["country"] == "DE"


def test_https_public_url_makes_the_cookie_secure(tmp_path: Path) -> None:
    """Behind an https PUBLIC_URL the session cookie carries Secure."""
    (tmp_path / "dev-users.yaml").write_text(USERS)
    answer = Site(tmp_path, "https://testserver").run(lambda c: sign_in(c, "bob@example.com", "/"))
    assert answer.status_code == 303
    assert "Secure" in answer.headers["set-cookie"]


def test_open_redirect_is_refused(site: Site) -> None:
    """An rd pointing off the protected hosts lands on PUBLIC_URL instead."""
    answer = site.run(lambda c: sign_in(c, "bob@example.com", "https://evil.example/phish"))
    assert answer.status_code == 303
    assert answer.headers["location"] == "http://testserver/"


def test_post_without_csrf_token_is_refused(site: Site) -> None:
    """MALLORY's cross-site form (no token) cannot sign a victim in: 403."""

    async def steps(client: httpx.AsyncClient) -> httpx.Response:
        await client.get("/dev/login")
        body = "email=mallory%40contractor.example&rd="
        return await client.post("/dev/login", content=body, headers=FORM)

    answer = site.run(steps)
    assert answer.status_code == 403
    assert "countersign_session" not in answer.headers.get("set-cookie", "")


def test_csrf_token_from_another_browser_is_refused(site: Site) -> None:
    """A token MALLORY fetched for herself does not match the victim's nonce cookie."""

    async def steps(client: httpx.AsyncClient) -> httpx.Response:
        stolen = csrf_of((await client.get("/dev/login")).text)
        client.cookies.clear()
        body = f"email=mallory%40contractor.example&rd=&csrf={stolen}"
        victim = {**FORM, "cookie": f"{CSRF_COOKIE}=victims-own-nonce"}
        return await client.post("/dev/login", content=body, headers=victim)

    assert site.run(steps).status_code == 403


def test_unknown_user_is_refused(site: Site) -> None:
    """Only users listed in dev-users.yaml can be signed in as."""
    assert site.run(lambda c: sign_in(c, "eve@example.com")).status_code == 400


def test_non_form_body_is_refused(site: Site) -> None:
    """A JSON body is 415: the form is urlencoded only."""
    answer = site.run(lambda c: c.post("/dev/login", json={"email": "alice@example.com"}))
    assert answer.status_code == 415


def test_oversized_form_is_refused(site: Site) -> None:
    """Forms over 8 KB are refused before parsing."""
    body = "email=" + "a" * 9000
    answer = site.run(lambda c: c.post("/dev/login", content=body, headers=FORM))
    assert answer.status_code == 413


def test_jwks_is_served(site: Site) -> None:
    """GET /dev/jwks.json publishes the dev issuer's public key."""
    body = site.run(lambda c: c.get("/dev/jwks.json")).json()
    assert body == site.issuer.jwks()
