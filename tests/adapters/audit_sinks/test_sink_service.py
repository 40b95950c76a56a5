"""The audit streamer as bootstrap wires it: started and stopped with the service, and each
sink's backlog and lag on /metrics, read from its cursor at each scrape."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from app.adapters.audit_sinks.service import build_streamer, progress
from app.adapters.observability.metrics import Metrics
from app.bootstrap import build, prepare_process
from app.config import Settings, load_settings
from tests.adapters.audit_sinks.harness import SECRET, all_ids, append, http_sink, streaming
from tests.adapters.audit_sinks.receivers import LinesReceiver
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.waiting import until

POLICY_DIR = Path(__file__).resolve().parents[3] / "policy_rules"

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def settings_for(tmp_path: Path, redis_url: str, sinks: str) -> Settings:
    """Dev settings over `redis_url` with the sinks given as YAML text."""
    return load_settings(
        {
            "COUNTERSIGN_DEV": "1",
            "COUNTERSIGN_REDIS_URL": redis_url,
            "COUNTERSIGN_POLICY_DIR": str(POLICY_DIR),
            "COUNTERSIGN_DATA_DIR": str(tmp_path),
            "COUNTERSIGN_PUBLIC_URL": "http://auth.example.com:8000",
            "COUNTERSIGN_LOG_LEVEL": "error",
            "COUNTERSIGN_REDIS_TIMEOUT": "2s",
            "COUNTERSIGN_AUDIT_SINKS": sinks,
        }
    )


def test_no_streamer_without_sinks(tmp_path: Path, server: RedisServer) -> None:
    """With no sink configured nothing runs."""
    settings = settings_for(tmp_path, server.url, "[]")
    assert build_streamer(settings.audit_stream, redis=settings.redis) is None


def test_the_service_streams_its_audit_log_to_a_file_while_it_runs(
    tmp_path: Path, server: RedisServer
) -> None:
    """A service with a file sink writes the audit log there (its own policy_loaded entry
    included) while it runs, and /metrics shows the sink caught up."""
    path = tmp_path / "audit.jsonl"
    settings = settings_for(tmp_path, server.url, f"[{{name: archive, kind: file, path: {path}}}]")
    assert prepare_process(settings) is None

    async def go() -> None:
        client = Redis.from_url(server.url)
        await client.flushdb()
        app = build(settings)
        try:
            async with app.api.router.lifespan_context(app.api):
                written = await append(client, 3)

                async def all_written() -> bool:
                    lines = path.read_text().splitlines() if path.exists() else []
                    return [json.loads(line)["id"] for line in lines] == await all_ids(client)

                await until(all_written)
                assert set(written) <= {
                    json.loads(line)["id"] for line in path.read_text().splitlines()
                }
                transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4321))
                async with httpx.AsyncClient(transport=transport, base_url="http://cs") as http:
                    text = (await http.get("/metrics")).text
            assert 'countersign_audit_sink_backlog{sink="archive"} 0.0' in text
            assert 'countersign_audit_sink_lag_seconds{sink="archive"} 0.0' in text
            assert 'countersign_audit_sink_delivered_total{sink="archive"}' in text
        finally:
            await client.aclose()

    asyncio.run(go())


def test_backlog_and_lag_grow_while_a_sink_is_down_and_clear_when_it_is_back(
    server: RedisServer,
) -> None:
    """Five entries wait for a receiver that is down: backlog 5, lag the age of the oldest;
    once it is back both are 0. A sink that starts at the end owes nothing."""
    receiver = LinesReceiver(secret=SECRET.encode())
    sinks = [http_sink(receiver.url), http_sink(receiver.url, name="late", start="end")]
    later = lambda: datetime.now(UTC) + timedelta(seconds=30)  # noqa: E731

    async def go() -> None:
        client = Redis.from_url(server.url)
        try:
            await client.flushdb()
            metrics = Metrics()
            written = await append(client, 5)
            for sink, seen in (await progress(client, sinks, now=later)).items():
                metrics.audit_sink_progress(sink, backlog=seen.backlog, lag=seen.lag)
            text = metrics.render().decode()
            assert 'countersign_audit_sink_backlog{sink="siem"} 5.0' in text
            assert 'countersign_audit_sink_backlog{sink="late"} 0.0' in text
            lag = (await progress(client, sinks, now=later))["siem"].lag
            assert 30.0 <= lag < 60.0
            receiver.start()
            async with streaming(server.url, sinks[:1]):
                await until(lambda: receiver.ids() == written)
            assert (await progress(client, sinks, now=later))["siem"].backlog == 0
            assert (await progress(client, sinks, now=later))["siem"].lag == 0.0
        finally:
            receiver.stop()
            await client.aclose()

    asyncio.run(go())
