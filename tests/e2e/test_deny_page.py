"""The refusal page through every shipped proxy: a denied browser gets Countersign's page (what
it cannot use, why, who is signed in, whom to ask), an API client keeps the plain deny, and
the application's own 403 is never replaced.

Its own Countersign, backend and proxies: the policies carry hostile names, and the backend
answers 403 on one path to prove that answer reaches the client as the application wrote it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from markupsafe import escape

from tests.support.countersign import RunningCountersign, start_countersign
from tests.support.gate import BROWSER_ACCEPT
from tests.support.ports import LOOPBACK
from tests.support.proxies import PROXIES, PUBLIC_HOST, ProxyPool
from tests.support.redis_server import RedisServerFactory

pytestmark = pytest.mark.e2e

HOSTILE_APP = '<script>alert("app")</script> & Tools'
HOSTILE_POLICY = "<b>Contractors</b> never"
HOSTILE_USER = "eve+<img src=x onerror=alert(1)>@example.com"
APP_SAYS_NO = b"the application itself says no"
POLICIES = {
    # Contractors are blocked by a policy with a hostile name; staff may ask leads or Olivia.
    "tools.yaml": f"""
application:
  id: tools
  name: {json.dumps(HOSTILE_APP)}
  hosts: [tools.example.com]
  paths: ["/"]
policies:
  - name: {json.dumps(HOSTILE_POLICY)}
    action: block
    include: [{{group: contractors}}]
  - name: Staff, with a lead's approval
    action: allow
    include: [{{group: engineers}}]
    approval:
      approvers: [{{group: leads}}, {{email: olivia@example.com}}]
      default_duration: 1h
      max_duration: 8h
""",
    # Admins only, no approver: anyone else falls through to "no policy matched".
    "admin.yaml": """
application:
  id: admin
  name: Admin console
  hosts: [admin.example.com]
  paths: ["/"]
policies:
  - name: Admins
    action: allow
    include: [{group: admins}]
""",
    "open.yaml": """
application:
  id: open
  name: Open
  hosts: [open.example.com]
  paths: ["/"]
policies:
  - name: Everyone signed in
    action: allow
    include: [{everyone: true}]
""",
}


class _App(BaseHTTPRequestHandler):
    """The protected application: 403 with its own page on /forbidden, 200 elsewhere."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        status, body = (403, APP_SAYS_NO) if self.path == "/forbidden" else (200, b"welcome")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("X-App", "own-answer")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def app_port() -> Iterator[int]:
    """The protected application, on a loopback port."""
    server = ThreadingHTTPServer((LOOPBACK, 0), _App)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def deny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files and logs of this module's processes."""
    root = tmp_path_factory.mktemp("deny-page")
    apps = root / "policies" / "apps"
    apps.mkdir(parents=True)
    for name, text in POLICIES.items():
        (apps / name).write_text(text)
    return root


@pytest.fixture(scope="module")
def service(
    deny_root: Path, redis_server_factory: RedisServerFactory
) -> Iterator[RunningCountersign]:
    """Countersign in dev mode with the hostile policies."""
    running = start_countersign(
        deny_root / "countersign",
        redis_url=redis_server_factory().url,
        policy_dir=deny_root / "policies",
        public_url=f"http://{PUBLIC_HOST}",
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def pool(deny_root: Path, service: RunningCountersign, app_port: int) -> Iterator[ProxyPool]:
    """The four shipped configurations in front of them."""
    proxies = ProxyPool(deny_root / "proxies", countersign_port=service.port, backend_port=app_port)
    yield proxies
    proxies.stop_all()


@pytest.fixture(scope="module")
def people(service: RunningCountersign) -> dict[str, str]:
    """Tokens: a contractor, an engineer, and a contractor whose address is hostile markup."""
    return {
        "mallory": service.mint(email="mallory@example.com", groups=["contractors"]),
        "alice": service.mint(email="alice@example.com", groups=["engineers"]),
        "eve": service.mint(email=HOSTILE_USER, groups=["contractors"]),
    }


@dataclass
class Client:
    """An HTTP client of one proxy, following no redirect."""

    name: str
    http: httpx.Client

    def get(self, host: str, path: str, token: str, *, accept: str) -> httpx.Response:
        """GET `path` on `host` as the holder of `token`."""
        headers = {"Host": host, "Accept": accept, "Authorization": f"Bearer {token}"}
        return self.http.get(path, headers=headers)


@pytest.fixture(params=PROXIES)
def client(request: pytest.FixtureRequest, pool: ProxyPool) -> Iterator[Client]:
    """A client of each proxy in turn."""
    proxy = pool.get(request.param)
    with httpx.Client(base_url=proxy.base_url, timeout=10.0, trust_env=False) as http:
        yield Client(proxy.name, http)


def _get(client: Client, host: str, path: str, token: str, *, accept: str) -> tuple[int, str, str]:
    response = client.get(host, path, token, accept=accept)
    return response.status_code, response.headers.get("content-type", ""), response.text


def _assert_page(status: int, content_type: str, body: str) -> None:
    assert status == 403
    assert content_type.startswith("text/html"), content_type
    assert "<h1>You cannot use" in body


def test_blocked_browser_gets_the_page_with_why_and_whom_to_ask(
    client: Client, people: dict[str, str]
) -> None:
    """A contractor opening Tools in a browser reads the application, the policy that refused
    them and why, who they are signed in as, and the approvers; every name escaped."""
    status, content_type, body = _get(
        client, "tools.example.com", "/reports", people["mallory"], accept=BROWSER_ACCEPT
    )
    _assert_page(status, content_type, body)
    assert f"<h1>You cannot use {escape(HOSTILE_APP)}</h1>" in body
    assert f"The policy “{escape(HOSTILE_POLICY)}” refuses you access." in body
    assert "Your groups are not allowed here." in body
    assert "mallory@example.com" in body
    assert "members of the group leads; olivia@example.com" in body
    assert "<script>" not in body
    assert "<b>" not in body


def test_page_carries_the_pages_security_headers(client: Client, people: dict[str, str]) -> None:
    """The page reaches the browser with its CSP (no script at all), no-store and nosniff."""
    response = client.get("tools.example.com", "/", people["mallory"], accept=BROWSER_ACCEPT)
    assert response.status_code == 403
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    assert "no-store" in response.headers.get("cache-control", "")
    assert response.headers.get("x-content-type-options") == "nosniff"


def test_hostile_user_name_is_escaped(client: Client, people: dict[str, str]) -> None:
    """An address holding markup is shown as text, never as an element."""
    status, content_type, body = _get(
        client, "tools.example.com", "/", people["eve"], accept=BROWSER_ACCEPT
    )
    _assert_page(status, content_type, body)
    assert escape(HOSTILE_USER) in body
    assert "<img" not in body


def test_no_matching_policy_and_no_approver_says_ask_your_administrator(
    client: Client, people: dict[str, str]
) -> None:
    """An engineer on the admin console: no policy lets them in, and nobody is named."""
    status, content_type, body = _get(
        client, "admin.example.com", "/", people["alice"], accept=BROWSER_ACCEPT
    )
    _assert_page(status, content_type, body)
    assert "<h1>You cannot use Admin console</h1>" in body
    assert "No policy of this application lets you in." in body
    assert "your administrator" in body


def test_unprotected_host_reveals_nothing(client: Client, people: dict[str, str]) -> None:
    """A host no application claims gets the page with no name of anything in it."""
    status, content_type, body = _get(
        client, "unlisted.example.net", "/", people["alice"], accept=BROWSER_ACCEPT
    )
    _assert_page(status, content_type, body)
    assert "<h1>You cannot use this site</h1>" in body
    assert "This address is not open to anyone." in body
    for name in ("Tools", "Admin console", "Open", "leads"):
        assert name not in body.split("<body>", 1)[1]


def test_api_client_keeps_the_plain_deny(client: Client, people: dict[str, str]) -> None:
    """Accept: application/json gets today's answer: Countersign's JSON through Traefik, Caddy
    and Envoy, nginx's own 403 through nginx; never the page."""
    status, content_type, body = _get(
        client, "tools.example.com", "/", people["mallory"], accept="application/json"
    )
    assert status == 403
    assert "You cannot use" not in body
    if client.name == "nginx":
        assert "403 Forbidden" in body
    else:
        assert content_type.startswith("application/json")
        assert json.loads(body) == {"decision": "deny"}


def test_applications_own_403_passes_through_unchanged(
    client: Client, people: dict[str, str]
) -> None:
    """The application's own 403 (here on /forbidden) reaches the browser as it wrote it."""
    response = client.get("open.example.com", "/forbidden", people["alice"], accept=BROWSER_ACCEPT)
    assert response.status_code == 403
    assert response.content == APP_SAYS_NO
    assert response.headers.get("x-app") == "own-answer"
    assert response.headers.get("content-type") == "text/plain"
