"""Sign-in with a real OpenID provider through every shipped proxy configuration: a browser
without a session is sent to /login, on to the provider, back to /login/callback and then to
the page it asked for, with a session cookie that opens the application (identity headers and
an assertion that verifies, never the cookie itself); an API client gets a 401; signing out
ends the session for good.

A second Countersign runs here, configured as production is: OIDC against oidc-provider-mock
on loopback, its own session key file (ES256), no dev mode, and its own proxies.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.backend import Backend
from tests.support.countersign import RunningCountersign, start_countersign, write_session_key
from tests.support.gate import Gate, Sent
from tests.support.oidc_provider import OidcProvider, start_oidc_provider
from tests.support.ports import free_ports
from tests.support.proxies import DEPLOY, PROXIES, PUBLIC_HOST, ProxyPool
from tests.support.redis_server import RedisServerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

POLICY_DIR = Path(__file__).parent / "policies"
CLIENT_ID = "countersign-e2e"
SESSION_COOKIE = "countersign_session"
BINDING_COOKIE = "countersign_signin"
ASSERTION = "X-Countersign-Assertion"
#: ALICE at the provider: her subject and the claims it vouches for.
ALICE_SUB = "u-alice"
ALICE = {"email": "alice@example.com", "email_verified": True, "groups": ["engineers"]}
PAGE = "/dashboard?tab=1"
PAGE_URL = f"http://open.example.com{PAGE}"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "verify_assertion", DEPLOY / "examples" / "verify_assertion.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = _load_example()


@pytest.fixture(scope="module")
def provider(e2e_root: Path) -> Iterator[OidcProvider]:
    """oidc-provider-mock on loopback, knowing ALICE."""
    running = start_oidc_provider(e2e_root / "oidc-provider")
    running.set_user(ALICE_SUB, ALICE)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def oidc_proxy_ports() -> dict[str, int]:
    """Listening ports of this module's proxies (the public URL names nginx's)."""
    return dict(zip(PROXIES, free_ports(len(PROXIES)), strict=True))


@pytest.fixture(scope="module")
def oidc_countersign(
    e2e_root: Path,
    redis_server_factory: RedisServerFactory,
    provider: OidcProvider,
    oidc_proxy_ports: dict[str, int],
) -> Iterator[RunningCountersign]:
    """Countersign signing people in at the provider, with a session key file, no dev mode.
    The mock accepts any client id and secret (no registration needed)."""
    directory = e2e_root / "countersign-oidc"
    running = start_countersign(
        directory,
        redis_url=redis_server_factory().url,
        policy_dir=POLICY_DIR,
        public_url=f"http://{PUBLIC_HOST}:{oidc_proxy_ports['nginx']}",
        extra_env={
            "COUNTERSIGN_DEV": "false",
            "COUNTERSIGN_OIDC_ISSUER": provider.issuer,
            "COUNTERSIGN_OIDC_CLIENT_ID": CLIENT_ID,
            "COUNTERSIGN_OIDC_CLIENT_SECRET": "e2e-client-secret",
            "COUNTERSIGN_SESSION_KEY_FILE": str(write_session_key(directory / "keys")),
        },
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def oidc_proxy_pool(
    e2e_root: Path,
    oidc_countersign: RunningCountersign,
    backend: Backend,
    oidc_proxy_ports: dict[str, int],
) -> Iterator[ProxyPool]:
    """The four shipped configurations in front of the OIDC Countersign."""
    pool = ProxyPool(
        e2e_root / "proxies-oidc", countersign_port=oidc_countersign.port, backend_port=backend.port
    )
    pool.reserve(oidc_proxy_ports)
    yield pool
    pool.stop_all()


@pytest.fixture
def edge(proxy_name: str, oidc_proxy_pool: ProxyPool, backend: Backend) -> Iterator[Gate]:
    """A client for the proxy under test, in front of the OIDC Countersign."""
    client = Gate(oidc_proxy_pool.get(proxy_name), backend)
    yield client
    client.close()


@pytest.fixture(scope="module")
def verifier(oidc_countersign: RunningCountersign) -> Any:
    """The shipped example's verifier for the open app, keys from Countersign's own address
    (auth.example.com does not resolve here)."""
    return example.AssertionVerifier(
        oidc_countersign.public_url,
        "open",
        jwks_url=f"{oidc_countersign.base_url}/.well-known/jwks.json",
    )


# -- a browser's steps, one request each, through the proxy ---------------------------------


def target_of(url: str) -> str:
    """Path and query of a URL, as the request target to send to the proxy."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def query_of(url: str) -> dict[str, str]:
    """The query of a URL, one value per name."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def set_cookie(sent: Sent, name: str) -> str | None:
    """The value of cookie `name` the answer sets (None if it sets none)."""
    for header in sent.response.headers.get_list("set-cookie"):
        pair = header.split(";", 1)[0]
        key, _, value = pair.partition("=")
        if key.strip() == name:
            return value.strip().strip('"')
    return None


@dataclass(frozen=True, slots=True)
class SignInTrip:
    """Every answer of one sign-in, in order, and the session cookie it ended with."""

    start: Sent
    login: Sent
    authorize_location: str
    callback: Sent
    session: str


def sign_in(edge: Gate, provider: OidcProvider, *, sub: str = ALICE_SUB) -> SignInTrip:
    """A browser without a session opens PAGE_URL and signs in, as `sub`, at the provider."""
    start = edge.get("open.example.com", PAGE, browser=True)
    assert start.status == 302, start.response.text
    assert start.location is not None
    login = edge.get(PUBLIC_HOST, target_of(start.location), browser=True)
    assert login.status == 302, login.response.text
    assert login.location is not None
    binding = set_cookie(login, BINDING_COOKIE)
    assert binding, login.response.headers
    answer = provider.authorize(login.location, sub)
    assert answer.status_code == 302, answer.text
    back = answer.headers["location"]
    callback = edge.get(
        PUBLIC_HOST,
        target_of(back),
        browser=True,
        headers={"Cookie": f"{BINDING_COOKIE}={binding}"},
    )
    assert callback.status == 303, callback.response.text
    session = set_cookie(callback, SESSION_COOKIE)
    assert session, callback.response.headers
    return SignInTrip(start, login, back, callback, session)


# -- the journey, one behaviour per test -----------------------------------------------------


def test_browser_without_session_is_sent_to_sign_in(
    edge: Gate, oidc_countersign: RunningCountersign
) -> None:
    """A page load without a session gets a 302 to PUBLIC_URL/login with the page in `rd`."""
    sent = edge.get("open.example.com", PAGE, browser=True)
    assert sent.status == 302
    assert sent.location is not None
    assert sent.location.startswith(f"{oidc_countersign.public_url}/login?")
    assert query_of(sent.location)["rd"] == PAGE_URL
    assert sent.arrived == ()


def test_login_on_the_public_host_leads_to_the_provider(
    edge: Gate, provider: OidcProvider, oidc_countersign: RunningCountersign
) -> None:
    """/login through the proxy redirects to the provider's authorization endpoint (code flow,
    PKCE S256, our callback) and binds the flow to the browser with a cookie."""
    trip = sign_in(edge, provider)
    location = trip.login.location
    assert location is not None
    assert location.startswith(f"{provider.issuer}/oauth2/authorize?")
    params = query_of(location)
    assert params["client_id"] == CLIENT_ID
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256"
    assert params["redirect_uri"] == f"{oidc_countersign.public_url}/login/callback"
    assert {"state", "nonce", "code_challenge"} <= params.keys()


def test_the_provider_returns_the_browser_to_the_callback(
    edge: Gate, provider: OidcProvider, oidc_countersign: RunningCountersign
) -> None:
    """Signing in at the provider redirects to PUBLIC_URL/login/callback with a code and the
    state Countersign sent."""
    trip = sign_in(edge, provider)
    assert trip.authorize_location.startswith(f"{oidc_countersign.public_url}/login/callback?")
    params = query_of(trip.authorize_location)
    assert params["code"]
    assert params["state"] == query_of(trip.login.location or "")["state"]


def test_callback_through_the_proxy_sets_a_session_and_returns_to_rd(
    edge: Gate, provider: OidcProvider
) -> None:
    """The callback answers 303 to the original page with an HttpOnly session cookie."""
    trip = sign_in(edge, provider)
    assert trip.callback.location == PAGE_URL
    cookie = next(
        v
        for v in trip.callback.response.headers.get_list("set-cookie")
        if v.startswith(SESSION_COOKIE + "=")
    )
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert trip.callback.arrived == ()


def test_the_session_opens_the_app_with_identity_and_assertion(
    edge: Gate, provider: OidcProvider, verifier: Any, oidc_countersign: RunningCountersign
) -> None:
    """With the session cookie ALICE reaches the app: it sees her as X-Auth-Request-User and
    gets an assertion for `open` that verifies against Countersign's JWKS."""
    trip = sign_in(edge, provider)
    sent = edge.get("open.example.com", PAGE, cookie=trip.session, browser=True)
    assert sent.status == 200, sent.response.text
    seen = sent.seen
    assert seen.header("X-Auth-Request-User")
    assert seen.header("X-Auth-Request-Email") == ALICE["email"]
    claims = verifier.verify(seen.header(ASSERTION))
    assert claims["aud"] == "open"
    assert claims["iss"] == oidc_countersign.public_url
    assert claims["email"] == ALICE["email"]
    assert claims["sub"] == ALICE_SUB
    assert claims["idp"] == provider.issuer


def test_the_app_never_sees_the_session_cookie(edge: Gate, provider: OidcProvider) -> None:
    """The session cookie is removed on the way to the app; the app's own cookie is kept."""
    trip = sign_in(edge, provider)
    sent = edge.get(
        "open.example.com",
        PAGE,
        browser=True,
        headers={"Cookie": f"theme=dark; {SESSION_COOKIE}={trip.session}"},
    )
    assert sent.status == 200, sent.response.text
    cookie = sent.seen.header("Cookie") or ""
    assert SESSION_COOKIE not in cookie
    assert trip.session not in cookie
    assert "theme=dark" in cookie


def test_api_client_without_session_gets_401_with_challenge(edge: Gate) -> None:
    """A JSON client without a session gets 401 + WWW-Authenticate, no redirect."""
    sent = edge.get("open.example.com", "/api/items")
    assert sent.status == 401
    assert sent.location is None
    assert sent.response.headers.get("www-authenticate", "").lower().startswith("bearer")
    assert sent.arrived == ()


def test_after_sign_out_the_old_cookie_no_longer_gets_in(
    edge: Gate, provider: OidcProvider, oidc_countersign: RunningCountersign
) -> None:
    """POST /logout (form token from GET /logout, same-origin headers) ends the session: the
    old cookie, sent again, is refused, and the browser goes on to the provider's sign-out."""
    trip = sign_in(edge, provider)
    assert edge.get("open.example.com", "/", cookie=trip.session).status == 200
    page = edge.get(PUBLIC_HOST, "/logout", cookie=trip.session, browser=True)
    assert page.status == 200, page.response.text
    csrf = csrf_of(page.response.text)
    out = edge.send(
        "POST",
        PUBLIC_HOST,
        "/logout",
        cookie=trip.session,
        browser=True,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": oidc_countersign.public_url,
            "Sec-Fetch-Site": "same-origin",
        },
        content=f"csrf={csrf}".encode(),
    )
    assert out.status == 303, out.response.text
    assert (out.location or "").startswith(f"{provider.issuer}/oauth2/end_session?")
    assert set_cookie(out, SESSION_COOKIE) == ""
    refused = edge.get("open.example.com", "/", cookie=trip.session)
    assert refused.status == 401
    assert refused.arrived == ()
    again = edge.get("open.example.com", PAGE, cookie=trip.session, browser=True)
    assert again.status == 302
    assert (again.location or "").startswith(f"{oidc_countersign.public_url}/login?")


def csrf_of(html: str) -> str:
    """The form token on a page."""
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_sign_out_form_may_go_on_to_the_provider(
    edge: Gate, provider: OidcProvider, oidc_countersign: RunningCountersign
) -> None:
    """The sign-out page's CSP lets its form be redirected to the provider's end-session
    endpoint (browsers apply form-action to redirects): with `'self'` alone, Chromium stopped
    the sign-out at Countersign."""
    trip = sign_in(edge, provider)
    page = edge.get(PUBLIC_HOST, "/logout", cookie=trip.session, browser=True)
    assert page.status == 200, page.response.text
    directives = page.response.headers["content-security-policy"].split(";")
    form_action = next(d.split() for d in directives if d.split()[:1] == ["form-action"])
    assert form_action == ["form-action", "'self'", provider.issuer]
