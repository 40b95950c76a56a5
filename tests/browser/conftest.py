"""Browser fixtures: Debian's Chromium driven by Playwright, through the shipped nginx
configuration, in front of the sample backend, with Countersign in dev mode.

The browser reaches every `*.example.com` host, on any port, at nginx's loopback port
(Chromium's host resolver rules), so URLs, cookies and redirects look as in production: plain
`http://auth.example.com` is Countersign's public URL, the other hosts are protected
applications. The session cookie is set for `.example.com`, as an operator protecting several
hosts would set it.

Without Chromium the suite skips locally and fails under CI=true.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.browser.site import BrowserSite
from tests.support import components
from tests.support.backend import Backend
from tests.support.countersign import RunningCountersign, service_env
from tests.support.ports import LOOPBACK, free_port
from tests.support.procs import ManagedProcess
from tests.support.proxies import PUBLIC_HOST, ProxyPool, RunningProxy
from tests.support.redis_server import RedisServerFactory

POLICY_DIR = Path(__file__).parent / "policies"
ARTIFACTS = components.REPO_ROOT / "tests" / "artifacts"
CHROMIUM_HINT = "apt-get install chromium (make test does it)"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    # Plain http on the default port is what the suite serves: no automatic https attempt.
    "--disable-features=HttpsUpgrades",
]
#: Milliseconds Playwright waits for a page or an element before failing a step.
STEP_TIMEOUT = 15_000


def chromium_binary() -> str:
    """Debian's Chromium; a missing one skips locally and fails in CI."""
    candidates = ("/usr/bin/chromium", shutil.which("chromium"))
    found = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    if found is None:
        components.missing("chromium", CHROMIUM_HINT)
    return found


@pytest.fixture(scope="session")
def browser_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the suite's processes keep their files and logs."""
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """tests/artifacts/, for screenshots (ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def site_backend() -> Iterator[Backend]:
    """The protected application: echoes each request as JSON."""
    with Backend() as running:
        yield running


@pytest.fixture(scope="session")
def nginx_port() -> int:
    """nginx's port, chosen first: Countersign's public URL names it."""
    return free_port()


@pytest.fixture(scope="session")
def service(
    browser_root: Path, redis_server_factory: RedisServerFactory, nginx_port: int
) -> Iterator[RunningCountersign]:
    """`countersign serve` in dev mode, as `make run` starts it, with the suite's policies."""
    directory = browser_root / "countersign"
    data_dir = directory / "data"
    data_dir.mkdir(parents=True)
    port = free_port()
    env = service_env(
        redis_url=redis_server_factory().url,
        policy_dir=POLICY_DIR,
        data_dir=data_dir,
        public_url=f"http://{PUBLIC_HOST}",
    )
    env.update(COUNTERSIGN_COOKIE_DOMAIN=".example.com", COUNTERSIGN_SWEEP_INTERVAL="1s")
    argv = [components.countersign(), "serve", "--host", LOOPBACK, "--port", str(port)]
    process = ManagedProcess(
        "countersign", argv, log_path=directory / "countersign.log", env=env, cwd=directory
    )
    process.wait_for_http(port, "/healthz", ready=lambda status: status == 200, timeout=30)
    yield RunningCountersign(process, port, env["COUNTERSIGN_PUBLIC_URL"], data_dir, env)
    process.stop()


@pytest.fixture(scope="session")
def nginx(
    browser_root: Path, service: RunningCountersign, site_backend: Backend, nginx_port: int
) -> Iterator[RunningProxy]:
    """deploy/nginx/countersign.conf in front of Countersign and the backend."""
    pool = ProxyPool(
        browser_root / "proxies", countersign_port=service.port, backend_port=site_backend.port
    )
    pool.reserve({"nginx": nginx_port})
    yield pool.get("nginx")
    pool.stop_all()


@pytest.fixture
def chromium(nginx_port: int) -> Iterator[Browser]:
    """A headless Chromium resolving *.example.com to nginx.

    One per test: Playwright's sync API keeps an event loop running in this thread while it is
    started, and the other suites call asyncio.run(), so it must be stopped between tests.
    """
    binary = chromium_binary()
    rules = f"--host-resolver-rules=MAP *.example.com {LOOPBACK}:{nginx_port}"
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
def site(chromium: Browser, nginx: RunningProxy, artifacts: Path) -> Iterator[BrowserSite]:
    """The whole set-up, and a fresh browser context (own cookies) per person of a test."""
    contexts: list[BrowserContext] = []

    def new_page(width: int, height: int) -> Page:
        context = chromium.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(STEP_TIMEOUT)
        contexts.append(context)
        return context.new_page()

    yield BrowserSite(artifacts=artifacts, new_page=new_page)
    for context in contexts:
        context.close()
