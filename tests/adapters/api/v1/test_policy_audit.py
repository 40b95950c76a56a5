"""The running service writes its policy loads to the audit log, where admins and audit
readers find them through /api/v1/audit: the set in force at start, then each reload."""

from __future__ import annotations

import asyncio
import gc
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import redis

from app.adapters.dev.issuer import DevIssuer
from app.bootstrap import build, prepare_process
from app.core.policy.compile import compile_policy_set
from app.core.policy.digest import set_digest
from app.services.policy_files import load_sources
from tests.adapters.api.v1.world import AUDITOR, ERIN, PEER, POLICY_DIR, Api, settings_for
from tests.support.redis_server import RedisServer, RedisServerFactory

AUDIT = "/api/v1/audit"
RADAR = """
application: {id: radar, hosts: [radar.example.com]}
policies:
  - {name: SRE, action: allow, include: [{group: sre}]}
"""
#: A loaded 2-core machine can be slow; the conditions below usually hold within a second.
DEADLINE = 30.0
T = TypeVar("T")
FAILED_LOAD = 'countersign_audit_append_failures_total{type="policy_loaded"}'


def started(api: Api, steps: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """Run `steps` against the service between its own start and stop (its lifespan)."""

    async def scenario() -> T:
        transport = httpx.ASGITransport(app=api.app, client=PEER)
        async with (
            api.app.api.router.lifespan_context(api.app.api),
            httpx.AsyncClient(transport=transport, base_url="http://countersign") as client,
        ):
            return await steps(client)

    try:
        return api.loop.run_until_complete(scenario())
    finally:
        gc.unfreeze()  # start-up freezes what exists; a test process builds many services


async def audit_of(client: httpx.AsyncClient, kind: str, bearer: str) -> list[dict[str, Any]]:
    """The events of one kind, newest first, as the holder of `bearer` reads them."""
    answer = await client.get(
        AUDIT, params={"type": kind}, headers={"authorization": f"Bearer {bearer}"}
    )
    assert answer.status_code == 200, answer.text
    return [item["event"] for item in answer.json()["items"]]


async def eventually(
    client: httpx.AsyncClient, kind: str, count: int, bearer: str = AUDITOR.secret
) -> list[dict[str, Any]]:
    """Poll the audit log until it holds `count` events of `kind`; those events."""
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while True:
        events = await audit_of(client, kind, bearer)
        if len(events) >= count:
            return events
        assert asyncio.get_running_loop().time() < deadline, f"no {count} {kind} within {DEADLINE}s"
        await asyncio.sleep(0.02)


def test_the_start_up_load_is_in_the_audit_log(api: Api) -> None:
    """Once started, the service has written `policy_loaded` naming the shipped set's digest;
    the auditor token reads it."""
    shipped = set_digest(compile_policy_set(load_sources(POLICY_DIR)))

    async def steps(client: httpx.AsyncClient) -> list[dict[str, Any]]:
        return await eventually(client, "policy_loaded", 1)

    events = started(api, steps)
    assert [e["data"]["digest"] for e in events] == [shipped]
    assert events[0]["data"]["trigger"] == "start"


def test_a_file_change_while_running_is_in_the_audit_log(
    tmp_path: Path, server: RedisServer
) -> None:
    """With reloads on, adding an application file makes the service write `policy_reloaded`
    (the new and the previous digest, the application added), which an admin reads."""
    with redis.Redis.from_url(server.url) as store:
        store.flushdb()
    policies = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, policies)
    settings = settings_for(
        tmp_path,
        server.url,
        COUNTERSIGN_POLICY_DIR=str(policies),
        COUNTERSIGN_POLICY_RELOAD="true",
        COUNTERSIGN_POLICY_RELOAD_INTERVAL="50ms",
    )
    assert prepare_process(settings) is None
    api = Api(
        settings=settings,
        app=build(settings),
        issuer=DevIssuer.load(tmp_path, public_url=settings.server.public_url),
        redis_url=server.url,
    )
    before = set_digest(compile_policy_set(load_sources(policies)))

    async def steps(client: httpx.AsyncClient) -> list[dict[str, Any]]:
        await eventually(client, "policy_loaded", 1)
        (policies / "apps" / "radar.yaml").write_text(RADAR)
        return await eventually(client, "policy_reloaded", 1, bearer=api.token(ERIN))

    try:
        events = started(api, steps)
    finally:
        api.loop.close()
    data = events[0]["data"]
    assert data["previous_digest"] == before
    assert data["digest"] == set_digest(compile_policy_set(load_sources(policies)))
    assert (data["trigger"], data["applications_added"]) == ("file-change", ["radar"])


def test_a_replica_without_redis_counts_the_audit_write_it_could_not_make(
    tmp_path: Path, redis_server_factory: RedisServerFactory
) -> None:
    """Started while Redis is down, the service still serves /metrics, where
    countersign_audit_append_failures_total{type="policy_loaded"} shows the start-up entry
    it could not write yet."""
    down = redis_server_factory()
    down.stop()
    settings = settings_for(tmp_path, down.url, COUNTERSIGN_REDIS_TIMEOUT="200ms")
    api = Api(
        settings=settings,
        app=build(settings),
        issuer=DevIssuer.load_or_create(tmp_path, public_url=settings.server.public_url),
        redis_url=down.url,
    )

    async def steps(client: httpx.AsyncClient) -> str:
        deadline = asyncio.get_running_loop().time() + DEADLINE
        while True:
            text = (await client.get("/metrics")).text
            if FAILED_LOAD in text and f"{FAILED_LOAD} 0.0" not in text:
                return text
            assert asyncio.get_running_loop().time() < deadline, text
            await asyncio.sleep(0.02)

    try:
        text = started(api, steps)
    finally:
        api.loop.close()
    count = next(line for line in text.splitlines() if line.startswith(FAILED_LOAD))
    assert float(count.split()[-1]) >= 1
