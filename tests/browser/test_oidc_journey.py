"""The second-opinion journey in Chromium with people signing in at a real OpenID provider
(oidc-provider-mock's own HTML form), through the shipped nginx configuration: ALICE is sent to
sign in, comes back and asks; BOB signs in, is asked to step up for the ledger's
`reviewers_need` (MFA, a sign-in of the last 15 minutes), signs in again and approves; ALICE
reaches the ledger with an assertion that verifies; she signs out and is sent to sign in again.

How step-up is made deterministic: the provider puts the claims a test sets on a user into the
ID token, `auth_time`, `amr` and `acr` included. BOB's first sign-in says he authenticated two
hours ago with a password only (`auth_time` = now - 2 h, `amr` = [pwd]); when he is at the
provider's form again, the test records that he has just authenticated with a one-time code
(`auth_time` = now, `amr` = [pwd, otp], `acr` = mfa), as a real provider would after
`prompt=login&max_age=900&acr_values=mfa`. No clock is waited on.

This module runs its own Countersign (OIDC, a session key file, no dev mode), nginx and
Chromium (whose resolver maps *.example.com to this nginx).
"""

from __future__ import annotations

import importlib.util
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.browser.conftest import LAUNCH_ARGS, POLICY_DIR, STEP_TIMEOUT, chromium_binary
from tests.browser.site import BrowserSite, Person
from tests.support import components
from tests.support.backend import Backend
from tests.support.countersign import RunningCountersign, service_env, write_session_key
from tests.support.oidc_provider import OidcProvider, start_oidc_provider
from tests.support.ports import LOOPBACK, free_port
from tests.support.procs import ManagedProcess
from tests.support.proxies import DEPLOY, PUBLIC_HOST, ProxyPool, RunningProxy
from tests.support.redis_server import RedisServerFactory

pytestmark = [pytest.mark.browser, pytest.mark.redis]

PUBLIC_URL = f"http://{PUBLIC_HOST}"
ACR_MFA = "mfa"
TWO_HOURS = 7200
ALICE = {"email": "alice@example.com", "email_verified": True, "groups": ["engineers"]}
BOB = {"email": "bob@example.com", "email_verified": True, "groups": ["leads"]}


def _load_verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "verify_assertion", DEPLOY / "examples" / "verify_assertion.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def provider(browser_root: Path) -> Iterator[OidcProvider]:
    """oidc-provider-mock on loopback (Chromium reaches 127.0.0.1 directly)."""
    running = start_oidc_provider(browser_root / "oidc-provider")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def oidc_nginx_port() -> int:
    """This module's nginx port."""
    return free_port()


@pytest.fixture(scope="module")
def oidc_service(
    browser_root: Path, redis_server_factory: RedisServerFactory, provider: OidcProvider
) -> Iterator[RunningCountersign]:
    """`countersign serve` as production runs it: OIDC sign-in at the provider, a session key
    file, the session cookie for `.example.com`, `acr_values=mfa` for step-up, no dev mode."""
    directory = browser_root / "countersign-oidc"
    data_dir = directory / "data"
    data_dir.mkdir(parents=True)
    port = free_port()
    env = service_env(
        redis_url=redis_server_factory().url,
        policy_dir=POLICY_DIR,
        data_dir=data_dir,
        public_url=PUBLIC_URL,
    )
    env.update(
        COUNTERSIGN_DEV="false",
        COUNTERSIGN_COOKIE_DOMAIN=".example.com",
        COUNTERSIGN_OIDC_ISSUER=provider.issuer,
        COUNTERSIGN_OIDC_CLIENT_ID="countersign-browser",
        COUNTERSIGN_OIDC_CLIENT_SECRET="browser-client-secret",
        COUNTERSIGN_OIDC_ACR_VALUES=ACR_MFA,
        COUNTERSIGN_SESSION_KEY_FILE=str(write_session_key(directory)),
    )
    argv = [components.countersign(), "serve", "--host", LOOPBACK, "--port", str(port)]
    process = ManagedProcess(
        "countersign", argv, log_path=directory / "countersign.log", env=env, cwd=directory
    )
    process.wait_for_http(port, "/healthz", ready=lambda status: status == 200, timeout=30)
    yield RunningCountersign(process, port, PUBLIC_URL, data_dir, env)
    process.stop()


@pytest.fixture(scope="module")
def oidc_nginx(
    browser_root: Path,
    oidc_service: RunningCountersign,
    site_backend: Backend,
    oidc_nginx_port: int,
) -> Iterator[RunningProxy]:
    """deploy/nginx/countersign.conf in front of the OIDC Countersign and the backend."""
    pool = ProxyPool(
        browser_root / "proxies-oidc",
        countersign_port=oidc_service.port,
        backend_port=site_backend.port,
    )
    pool.reserve({"nginx": oidc_nginx_port})
    yield pool.get("nginx")
    pool.stop_all()


@pytest.fixture
def oidc_chromium(oidc_nginx_port: int) -> Iterator[Browser]:
    """A headless Chromium resolving *.example.com to this module's nginx."""
    binary = chromium_binary()
    rules = f"--host-resolver-rules=MAP *.example.com {LOOPBACK}:{oidc_nginx_port}"
    driver = sync_playwright().start()
    try:
        browser = driver.chromium.launch(
            executable_path=binary, headless=True, args=[*LAUNCH_ARGS, rules]
        )
        yield browser
        browser.close()
    finally:
        driver.stop()


@pytest.fixture
def oidc_site(
    oidc_chromium: Browser, oidc_nginx: RunningProxy, artifacts: Path
) -> Iterator[BrowserSite]:
    """The OIDC set-up, and a fresh browser context (own cookies) per person."""
    contexts: list[BrowserContext] = []

    def new_page(width: int, height: int) -> Page:
        context = oidc_chromium.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(STEP_TIMEOUT)
        contexts.append(context)
        return context.new_page()

    yield BrowserSite(artifacts=artifacts, new_page=new_page)
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def verifier(oidc_service: RunningCountersign) -> Any:
    """The shipped example's verifier for the ledger, keys from Countersign's own address."""
    return _load_verifier().AssertionVerifier(
        PUBLIC_URL, "ledger", jwks_url=f"{oidc_service.base_url}/.well-known/jwks.json"
    )


def at_provider(person: Person, provider: OidcProvider) -> None:
    """Wait until the person's browser shows the provider's sign-in form."""
    person.page.wait_for_url(re.compile(re.escape(provider.issuer) + r"/oauth2/authorize\?"))
    expect(person.page.get_by_role("heading", level=1)).to_have_text("Authorize Client")


def sign_in_at_provider(person: Person, sub: str) -> None:
    """Type the subject into the provider's form and submit it, as a person would."""
    person.page.get_by_placeholder("sub").fill(sub)
    person.page.get_by_role("button", name="Authorize", exact=True).click()


def test_sign_in_step_up_approve_use_and_sign_out(
    oidc_site: BrowserSite, provider: OidcProvider, verifier: Any
) -> None:
    """ALICE signs in and asks; BOB signs in, steps up (fresh MFA sign-in) and approves; ALICE
    reaches the ledger with a verifiable assertion; after signing out she must sign in again."""
    provider.set_user("u-alice", ALICE)
    provider.set_user("u-bob", {**BOB, "amr": ["pwd"], "auth_time": int(time.time()) - TWO_HOURS})
    target = oidc_site.app_url("ledger", "/books?year=2024")

    alice = oidc_site.person("Alice")
    alice.page.goto(target)
    at_provider(alice, provider)
    alice.shot("oidc-01-provider-sign-in")
    sign_in_at_provider(alice, "u-alice")
    alice.page.wait_for_url(re.compile(r"/request\?app=ledger&rd="))
    expect(alice.page.get_by_role("heading", level=1)).to_have_text("Access to Ledger")
    alice.shot("oidc-02-request-form")
    request_id = alice.ask("INC-42 month-end close is blocked")
    expect(alice.page.locator("#status")).to_have_attribute("data-state", "pending")

    bob = oidc_site.person("Bob")
    bob.page.goto(oidc_site.public_url(f"/inbox/{request_id}"))
    at_provider(bob, provider)
    sign_in_at_provider(bob, "u-bob")
    bob.page.wait_for_url(re.compile(f"/inbox/{request_id}$"))
    expect(bob.page.locator("#justification")).to_have_text("INC-42 month-end close is blocked")
    step_up = bob.page.locator("#step-up")
    expect(step_up).to_be_visible()
    expect(bob.page.locator("#approve-form")).to_have_count(0)
    link = bob.page.get_by_role("link", name="Sign in again")
    href = link.get_attribute("href") or ""
    assert "prompt=login" in href
    assert "max_age=900" in href
    assert "mfa=1" in href
    bob.shot("oidc-03-step-up-prompt")

    link.click()
    at_provider(bob, provider)
    assert f"acr_values={ACR_MFA}" in bob.page.url
    assert "prompt=login" in bob.page.url
    # He authenticates now, with a one-time code: what the provider will vouch for.
    provider.set_user(
        "u-bob",
        {**BOB, "amr": ["pwd", "otp"], "acr": ACR_MFA, "auth_time": int(time.time())},
    )
    sign_in_at_provider(bob, "u-bob")
    bob.page.wait_for_url(re.compile(f"/inbox/{request_id}$"))
    expect(bob.page.locator("#step-up")).to_have_count(0)
    bob.page.get_by_role("button", name="Approve").click()
    expect(bob.page.get_by_role("status")).to_contain_text("Approved by bob@example.com")
    bob.shot("oidc-04-approved-after-step-up")

    # ALICE's status page notices by itself and takes her to the ledger.
    alice.page.wait_for_url(target, timeout=10_000)
    echoed = json.loads(alice.page.locator("body").inner_text())
    headers = {name.lower(): value for name, value in echoed["headers"]}
    assert headers["x-auth-request-email"] == "alice@example.com"
    claims = verifier.verify(headers["x-countersign-assertion"])
    assert claims["aud"] == "ledger"
    assert claims["sub"] == "u-alice"
    assert claims["idp"] == provider.issuer
    assert "countersign_session" not in headers.get("cookie", "")
    alice.shot("oidc-05-ledger")

    alice.page.goto(oidc_site.public_url("/logout"))
    alice.page.get_by_role("button", name="Sign out").click()
    alice.page.wait_for_url(re.compile(re.escape(provider.issuer) + r"/oauth2/end_session\?"))
    alice.page.get_by_role("button", name="End session").click()  # the provider's own page
    alice.page.wait_for_url(re.compile(r"auth\.example\.com/logout/done"))
    alice.shot("oidc-06-signed-out")
    alice.page.goto(target)
    at_provider(alice, provider)
