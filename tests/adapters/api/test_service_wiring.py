"""The wired service in-process: operations endpoints and one decision through bootstrap."""

from __future__ import annotations

import asyncio
import http.server
import json
import re
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from app.adapters.dev.issuer import DevIssuer
from app.bootstrap import build, prepare_process
from app.config import Settings, load_settings
from app.web import CountersignApp
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer, RedisServerFactory

POLICY_DIR = Path(__file__).resolve().parents[3] / "policy_rules"


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module."""
    return redis_server_factory()


def settings_for(tmp_path: Path, redis_url: str) -> Settings:
    return load_settings(
        {
            "COUNTERSIGN_DEV": "1",
            "COUNTERSIGN_REDIS_URL": redis_url,
            "COUNTERSIGN_POLICY_DIR": str(POLICY_DIR),
            "COUNTERSIGN_DATA_DIR": str(tmp_path),
            "COUNTERSIGN_PUBLIC_URL": "http://auth.example.com:8000",
            "COUNTERSIGN_LOG_LEVEL": "error",
            # A loaded 2-core test machine can take longer than the 250 ms default.
            "COUNTERSIGN_REDIS_TIMEOUT": "2s",
        }
    )


def get(app: CountersignApp, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://countersign") as http:
            return await http.get(path, headers=headers)

    return asyncio.run(go())


def test_ready_when_policy_loaded_and_redis_reachable(tmp_path: Path, server: RedisServer) -> None:
    """/readyz is 200 with the policy version when Redis answers."""
    settings = settings_for(tmp_path, server.url)
    assert prepare_process(settings) is None
    response = get(build(settings), "/readyz")
    assert response.status_code == 200
    assert response.json()["policy"]["applications"] >= 4
    assert response.json()["redis"] == {"reachable": True}


def test_not_ready_when_redis_is_down(tmp_path: Path) -> None:
    """/readyz is 503 and says Redis is unreachable; /healthz still answers."""
    settings = settings_for(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    prepare_process(settings)
    app = build(settings)
    response = get(app, "/readyz")
    assert response.status_code == 503
    assert response.json()["redis"] == {"reachable": False}
    assert get(app, "/healthz").status_code == 200


def test_dev_token_is_accepted_and_counted_in_metrics(tmp_path: Path, server: RedisServer) -> None:
    """A token minted by the dev issuer is allowed for SRE, and /metrics counts the decision."""
    settings = settings_for(tmp_path, server.url)
    prepare_process(settings)
    app = build(settings)
    issuer = DevIssuer.load(tmp_path, public_url=settings.server.public_url)
    token = issuer.mint(
        email="bob@example.com",
        now=time.time(),
        ttl=timedelta(minutes=5),
        claims=settings.identity.claims,
        groups=["sre", "sre-leads"],
        device_managed=True,
    )
    response = get(
        app,
        "/auth/nginx",
        {
            "X-Original-URL": "https://grafana.example.com/d/1",
            "X-Original-Method": "GET",
            "Authorization": f"Bearer {token}",
        },
    )
    assert response.status_code == 200
    assert response.headers["x-auth-request-email"] == "bob@example.com"
    metrics = get(app, "/metrics").text
    assert 'countersign_decisions_total{application="grafana",effect="allow"} 1.0' in metrics


def test_dev_login_redirect_keeps_only_safe_targets(tmp_path: Path, server: RedisServer) -> None:
    """/login sends dev users to /dev/login with rd, and drops an rd to another site."""
    settings = settings_for(tmp_path, server.url)
    prepare_process(settings)
    app = build(settings)
    good = get(app, "/login?rd=https%3A%2F%2Fgrafana.example.com%2F")
    evil = get(app, "/login?rd=https%3A%2F%2Fevil.example%2F")
    assert good.status_code == 302
    assert good.headers["location"] == "/dev/login?rd=https%3A%2F%2Fgrafana.example.com%2F"
    assert evil.headers["location"] == "/dev/login?rd=%2F"


def test_invalid_policy_dir_is_reported_before_start(tmp_path: Path, server: RedisServer) -> None:
    """prepare_process names every error of a broken policy set instead of starting."""
    apps = tmp_path / "policies" / "apps"
    apps.mkdir(parents=True)
    (apps / "x.yaml").write_text("application: {id: x, hosts: [x.example.com]}\npolicies: []\n")
    settings = load_settings(
        {"COUNTERSIGN_POLICY_DIR": str(tmp_path / "policies"), "COUNTERSIGN_REDIS_URL": server.url}
    )
    problem = prepare_process(settings)
    assert problem is not None
    assert "x.yaml:2:" in problem


def test_production_without_a_way_to_sign_in_refuses_to_start(tmp_path: Path) -> None:
    """Outside dev mode, no issuer and no OpenID provider: one line saying what to set."""
    settings = load_settings(
        {"COUNTERSIGN_POLICY_DIR": str(POLICY_DIR), "COUNTERSIGN_DATA_DIR": str(tmp_path)}
    )
    problem = prepare_process(settings)
    assert problem is not None
    assert "\n" not in problem
    assert "COUNTERSIGN_OIDC_ISSUER" in problem
    assert "COUNTERSIGN_ISSUER" in problem


def test_a_missing_policy_directory_is_one_line(tmp_path: Path) -> None:
    """No traceback: the directory and the setting that names it."""
    settings = settings_for(tmp_path, "redis://127.0.0.1:1/0")
    settings = settings.model_copy(
        update={"policy": settings.policy.model_copy(update={"dir": tmp_path / "nope"})}
    )
    problem = prepare_process(settings)
    assert problem is not None
    assert "\n" not in problem
    assert "no such policy directory" in problem
    assert "COUNTERSIGN_POLICY_DIR" in problem


def test_not_ready_until_the_issuers_keys_are_fetched(tmp_path: Path, server: RedisServer) -> None:
    """A JWKS URL that does not answer at start: /readyz is 503 naming the issuer, and 200 as
    soon as the keys can be fetched, without a restart."""
    keys = DevIssuer.load_or_create(tmp_path / "idp", public_url="http://idp.test")
    port = free_port()
    issuer = "https://idp.example.com"
    settings = load_settings(
        {
            "COUNTERSIGN_REDIS_URL": server.url,
            "COUNTERSIGN_POLICY_DIR": str(POLICY_DIR),
            "COUNTERSIGN_DATA_DIR": str(tmp_path),
            "COUNTERSIGN_LOG_LEVEL": "error",
            "COUNTERSIGN_REDIS_TIMEOUT": "2s",
            "COUNTERSIGN_ISSUER": issuer,
            "COUNTERSIGN_AUDIENCE": "countersign",
            "COUNTERSIGN_JWKS_URL": f"http://127.0.0.1:{port}/jwks.json",
            # Every probe may try again at once: the test need not wait out an interval.
            "COUNTERSIGN_JWKS_REFRESH_INTERVAL": "1ms",
        }
    )
    assert prepare_process(settings) is None
    app = build(settings)

    async def probe() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://countersign") as http:
            before = await http.get("/readyz")
            with JwksServer(port, keys.jwks()):
                deadline = time.monotonic() + 20
                after = await http.get("/readyz")
                while after.status_code != 200 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)  # polling a condition, not waiting for time
                    after = await http.get("/readyz")
            return before, after

    before, after = asyncio.run(probe())
    assert before.status_code == 503
    assert before.json()["identity"] == {"issuers_with_keys": {issuer: False}}
    assert before.json()["redis"] == {"reachable": True}
    assert after.status_code == 200, after.json()
    assert after.json()["identity"] == {"issuers_with_keys": {issuer: True}}


class JwksServer:
    """A JWKS document served on a loopback port from a thread, while in a `with` block."""

    def __init__(self, port: int, document: object) -> None:
        body = json.dumps(document).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def test_metrics_show_open_requests_and_grants_per_application(
    tmp_path: Path, server: RedisServer
) -> None:
    """ALICE asks for Grafana: one pending (and expiring within the warning window) there, 0
    for the other applications; BOB approves: none pending, one active grant."""
    settings = settings_for(tmp_path, server.url)
    settings = settings.model_copy(
        update={"notify": settings.notify.model_copy(update={"expiry_warning": timedelta(days=2)})}
    )
    prepare_process(settings)
    app = build(settings)
    issuer = DevIssuer.load(tmp_path, public_url=settings.server.public_url)

    def bearer(email: str, *groups: str) -> dict[str, str]:
        token = issuer.mint(
            email=email,
            now=time.time(),
            ttl=timedelta(minutes=5),
            claims=settings.identity.claims,
            groups=list(groups),
            device_managed=True,
            amr=["mfa"],
        )
        return {"authorization": f"Bearer {token}"}

    def gauge(text: str, name: str, application: str) -> float:
        match = re.search(rf'^{name}{{application="{application}"}} (\S+)$', text, re.M)
        assert match is not None, (name, application)
        return float(match.group(1))

    async def story() -> tuple[str, str]:
        await server_flush(server)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://countersign") as http:
            asked = await http.post(
                "/api/v1/access-requests",
                json={"application": "grafana", "justification": "INC-9 dashboards blank"},
                headers=bearer("alice@example.com", "engineering"),
            )
            assert asked.status_code == 201, asked.text
            before = (await http.get("/metrics")).text
            approved = await http.post(
                f"/api/v1/access-requests/{asked.json()['request']['id']}/approve",
                json={"duration": "1h"},
                headers=bearer("bob@example.com", "sre", "sre-leads"),
            )
            assert approved.status_code == 200, approved.text
            return before, (await http.get("/metrics")).text

    before, after = asyncio.run(story())
    assert gauge(before, "countersign_requests_pending", "grafana") == 1
    assert gauge(before, "countersign_requests_pending_expiring", "grafana") == 1
    assert gauge(before, "countersign_requests_pending", "db-console") == 0
    assert gauge(before, "countersign_grants_active", "grafana") == 0
    assert gauge(after, "countersign_requests_pending", "grafana") == 0
    assert gauge(after, "countersign_grants_active", "grafana") == 1


async def server_flush(server: RedisServer) -> None:
    """An empty store for a test that counts what is in it."""
    client = Redis.from_url(server.url)
    try:
        await client.flushall()
    finally:
        await client.aclose()
