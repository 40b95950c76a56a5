"""The whole service built in-process with OIDC sign-in configured, and a browser for it:
an httpx client with a cookie jar, talking to the ASGI app (lifespan included)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from app.bootstrap import build
from app.config import load_settings
from app.web import CountersignApp
from tests.support.countersign import write_session_key

PUBLIC_URL = "http://auth.example.com"
CLIENT_ID = "countersign-test"
WIKI = "https://wiki.example.com/page"
#: The proxy's address: trusted by default (127.0.0.1).
PROXY = ("127.0.0.1", 4321)
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')

POLICY = """\
application: {id: wiki, name: Wiki, hosts: [wiki.example.com], paths: ["/"]}
policies:
  - name: Engineers
    action: allow
    include: [{group: engineers}]
"""


def write_policies(directory: Path) -> Path:
    """A one-application policy set: engineers may use the wiki."""
    apps = directory / "policies" / "apps"
    apps.mkdir(parents=True, exist_ok=True)
    (apps / "wiki.yaml").write_text(POLICY)
    return directory / "policies"


def environment(
    directory: Path, *, redis_url: str, issuer: str | None, **extra: str
) -> dict[str, str]:
    """Settings of a non-dev service with sessions and, given `issuer`, OIDC sign-in."""
    env = {
        "COUNTERSIGN_REDIS_URL": redis_url,
        "COUNTERSIGN_POLICY_DIR": str(write_policies(directory)),
        "COUNTERSIGN_DATA_DIR": str(directory / "var"),
        "COUNTERSIGN_PUBLIC_URL": PUBLIC_URL,
        "COUNTERSIGN_LOG_LEVEL": "error",
        "COUNTERSIGN_REDIS_TIMEOUT": "2s",
        "COUNTERSIGN_POLICY_RELOAD": "false",
        "COUNTERSIGN_SESSION_KEY_FILE": str(write_session_key(directory)),
    }
    if issuer is not None:
        # oidc-provider-mock accepts any secret, but no public clients (auth method "none").
        env |= {
            "COUNTERSIGN_OIDC_ISSUER": issuer,
            "COUNTERSIGN_OIDC_CLIENT_ID": CLIENT_ID,
            "COUNTERSIGN_OIDC_CLIENT_SECRET": "test-client-secret",
        }
    return env | {f"COUNTERSIGN_{k.upper()}": v for k, v in extra.items()}


def build_app(env: Mapping[str, str]) -> CountersignApp:
    """The service as `countersign serve` builds it."""
    return build(load_settings(env))


@contextlib.asynccontextmanager
async def browser(app: CountersignApp) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client for the app. No lifespan (as in the other in-process tests):
    discovery and keys are fetched on first use, and session checks read Redis directly."""
    transport = httpx.ASGITransport(app=app, client=PROXY)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        yield client


def query(location: str) -> dict[str, str]:
    """The query of a redirect target, one value per name."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def path_and_query(location: str) -> str:
    """A redirect to our own PUBLIC_URL, as a path the in-process client can follow."""
    assert location.startswith(PUBLIC_URL), location
    return location[len(PUBLIC_URL) :]


def csrf_of(html: str) -> str:
    """The form token on a page."""
    found = _CSRF.search(html)
    assert found is not None, html
    return found.group(1)


async def forward_auth(
    client: httpx.AsyncClient, url: str = WIKI, *, accept: str = "text/html"
) -> httpx.Response:
    """nginx's auth subrequest for `url`, with the browser's cookies."""
    return await client.get(
        "/auth/nginx",
        headers={"X-Original-URL": url, "X-Original-Method": "GET", "Accept": accept},
    )
