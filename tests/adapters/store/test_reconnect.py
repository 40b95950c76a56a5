"""After Redis is killed and restarted, the service answers as before at once: no check, read or
transition fails on a pooled connection that died with the old server."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from app.adapters.dev.issuer import DevIssuer
from app.bootstrap import build, prepare_process
from tests.adapters.api.v1.world import ALICE, BOB, DAVE, PEER, Api, settings_for
from tests.support.procs import ManagedProcess
from tests.support.redis_server import RedisServer, RedisServerFactory, ping

CONCURRENT_CHECKS = 48


@pytest.fixture
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """A server of this test alone (it gets killed), writing every change to its AOF at once
    so a kill -9 loses nothing that was acknowledged."""
    started = redis_server_factory(appendonly=True)
    client = redis.Redis.from_url(started.url)
    try:
        client.config_set("appendfsync", "always")
    finally:
        client.close()
    return started


@pytest.fixture
def api(tmp_path: Path, server: RedisServer) -> Iterator[Api]:
    """The wired service in-process against `server`."""
    settings = settings_for(tmp_path, server.url)
    assert prepare_process(settings) is None
    issuer = DevIssuer.load(tmp_path, public_url=settings.server.public_url)
    harness = Api(settings=settings, app=build(settings), issuer=issuer, redis_url=server.url)
    yield harness
    harness.loop.close()


def kill_and_restart(server: RedisServer) -> None:
    """kill -9 the server, start it again on the same port and data directory, and return
    once it answers PING."""
    old = server.process
    os.kill(old.pid, signal.SIGKILL)
    old.popen.wait(timeout=15)
    old.stop()  # reaps and closes its log
    server.process = ManagedProcess(old.name, old.argv, log_path=server.directory / "restarted.log")
    server.process.wait_until(lambda: ping(server.port), timeout=15, what="answering PING")


def connected_clients(url: str) -> int:
    """How many clients the server sees, this probe excluded."""
    client = redis.Redis.from_url(url)
    try:
        return len(client.client_list()) - 1
    finally:
        client.close()


def grafana_checks(api: Api, token: str, count: int) -> list[httpx.Response]:
    """`count` concurrent nginx forward-auth checks of ALICE's way into Grafana."""
    headers = {
        "X-Original-URL": "https://grafana.example.com/d/1",
        "X-Original-Method": "GET",
        "Authorization": f"Bearer {token}",
    }

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=api.app, client=PEER)
        async with httpx.AsyncClient(transport=transport, base_url="http://countersign") as http:
            return list(
                await asyncio.gather(
                    *(http.get("/auth/nginx", headers=headers) for _ in range(count))
                )
            )

    return api.loop.run_until_complete(go())


def test_checks_after_a_restart_all_answer_from_the_first_one(
    api: Api, server: RedisServer
) -> None:
    """With a warm pool, 48 concurrent checks right after Redis answers PING again all let
    ALICE in on her grant: none answers 503."""
    api.granted(ALICE)
    token = api.token(ALICE)
    warm = grafana_checks(api, token, CONCURRENT_CHECKS)
    assert {r.status_code for r in warm} == {200}
    assert connected_clients(server.url) > 4, "the pool should hold many connections"

    kill_and_restart(server)
    after = grafana_checks(api, token, CONCURRENT_CHECKS)

    assert [r.status_code for r in after] == [200] * CONCURRENT_CHECKS


def test_api_reads_and_transitions_after_a_restart_succeed(api: Api, server: RedisServer) -> None:
    """Right after a restart ALICE reads her request and grant, DAVE asks and BOB approves:
    every call succeeds, none on a dead pooled connection."""
    grant = api.granted(ALICE)
    grafana_checks(api, api.token(ALICE), CONCURRENT_CHECKS)  # warm the pool

    kill_and_restart(server)
    read_grant = api.get(f"/api/v1/grants/{grant['id']}", who=ALICE)
    listed = api.get("/api/v1/access-requests?mine=true", who=ALICE)
    asked = api.post(
        "/api/v1/access-requests",
        who=DAVE,
        json={"application": "grafana", "justification": "INC-4343 latency dashboards"},
    )
    approved = api.approve(BOB, asked.json()["request"]["id"])

    assert (read_grant.status_code, listed.status_code) == (200, 200)
    assert (asked.status_code, approved.status_code) == (201, 200), approved.text
