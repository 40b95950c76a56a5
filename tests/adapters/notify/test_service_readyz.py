"""The service as bootstrap wires it: /readyz shows the notifier's outbox state when channels
are configured."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from app.bootstrap import build, prepare_process
from app.config import Settings, load_settings
from app.web import CountersignApp
from tests.support.redis_server import RedisServer, RedisServerFactory

POLICY_DIR = Path(__file__).resolve().parents[3] / "policy_rules"
CHANNEL = """
notifications:
  - name: ops
    kind: webhook
    url: https://hooks.example.com/countersign
    secret_env: OPS_HOOK_SECRET
"""

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module."""
    return redis_server_factory()


def settings_for(tmp_path: Path, redis_url: str, *, channels: bool) -> Settings:
    """Dev settings over `redis_url`, with one webhook channel or none."""
    env = {
        "COUNTERSIGN_DEV": "1",
        "COUNTERSIGN_REDIS_URL": redis_url,
        "COUNTERSIGN_POLICY_DIR": str(POLICY_DIR),
        "COUNTERSIGN_DATA_DIR": str(tmp_path),
        "COUNTERSIGN_PUBLIC_URL": "http://auth.example.com:8000",
        "COUNTERSIGN_LOG_LEVEL": "error",
        "COUNTERSIGN_REDIS_TIMEOUT": "2s",
    }
    if channels:
        path = tmp_path / "countersign.yaml"
        path.write_text(CHANNEL)
        env |= {"COUNTERSIGN_CONFIG": str(path), "OPS_HOOK_SECRET": "whsec-wiring"}
    return load_settings(env)


def readyz(app: CountersignApp) -> httpx.Response:
    """GET /readyz in-process."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://countersign") as http:
            return await http.get("/readyz")

    return asyncio.run(go())


def test_readyz_shows_the_notifier_state(tmp_path: Path, server: RedisServer) -> None:
    """With a channel configured, /readyz carries `notifications` with the outbox state."""
    settings = settings_for(tmp_path, server.url, channels=True)
    assert prepare_process(settings) is None
    response = readyz(build(settings))
    assert response.status_code == 200
    shown = response.json()["notifications"]
    assert (shown["state"], shown["gaps"], shown["failing"]) == ("ok", 0, {})
