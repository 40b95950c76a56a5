"""COUNTERSIGN_DURABILITY against real servers: a change is acknowledged only once it is on the
primary's disk (`fsync`) or also on N replicas (`replicas:N`); a server that cannot give the
level is refused at start, and one that stops giving it refuses to acknowledge."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
from redis.asyncio import Redis

from app.adapters.store.connection import connect
from app.adapters.store.durability import (
    DurabilityRefusedError,
    DurabilityUnavailableError,
    DurableWrites,
    UnconfirmedWriteError,
)
from app.adapters.store.durability_server import PROBE_KEY
from app.adapters.store.keys import AUDIT_KEY
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.bootstrap import durability_refusal
from app.config import load_settings
from app.config.settings import Durability
from app.core.approvals import Event, EventType
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.redis_topologies import start_cluster
from tests.support.workflow import RETENTION, audit_length

T = TypeVar("T")
FSYNC = Durability("fsync")
ONE_REPLICA = Durability("replicas", 1)


def expired(application: str = "wiki") -> Event:
    """An audit event that changes no record: the smallest transition there is."""
    return Event(EventType.GRANT_EXPIRED, datetime.now(UTC), application, "alice@example.com")


def store_over(client: Any, durability: Durability, *, timeout: float = 2.0) -> RedisWorkflowStore:
    """The store with `durability`, waiting at most `timeout` seconds per change."""
    durable = DurableWrites(client, durability, timeout=timeout, redis_timeout=2.0)
    return RedisWorkflowStore(client, retention=RETENTION, durability=durable, redis_timeout=2.0)


def run(url: str, body: Callable[[Any], Awaitable[T]]) -> T:
    """Run `body` with a fresh asyncio client to `url`."""

    async def go() -> T:
        client = Redis.from_url(url)
        try:
            return await body(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


def waitaof_calls(url: str) -> int:
    """How many WAITAOF commands the server has run."""
    with redis.Redis.from_url(url) as client:
        stats = client.info("commandstats").get("cmdstat_waitaof", {})
        return int(stats.get("calls", 0))


def wait_until(check: Callable[[], bool], *, timeout: float = 30.0, what: str) -> None:
    """Poll `check` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} within {timeout:.0f} s")
        time.sleep(0.05)


def replica_online(primary: RedisServer) -> bool:
    """Whether `primary` has a replica that finished its initial sync."""
    with redis.Redis.from_url(primary.url) as client:
        replica = client.info("replication").get("slave0")
    return isinstance(replica, dict) and replica.get("state") == "online"


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis with AOF on (the suite's default) for the tests that do not change it."""
    return redis_server_factory()


def test_fsync_waits_for_the_aof_after_each_change(server: RedisServer) -> None:
    """With `fsync` on a server that has WAITAOF, every change is followed by a WAITAOF before
    the store returns."""

    async def body(client: Any) -> None:
        store = store_over(client, FSYNC)
        await store.append_audit([expired()])  # the first change also checks the server
        before = waitaof_calls(server.url)
        await store.append_audit([expired()])
        await store.append_audit([expired()])
        assert waitaof_calls(server.url) - before == 2

    run(server.url, body)


def test_none_waits_for_nothing(server: RedisServer) -> None:
    """`none` acknowledges as soon as EXEC answers: no WAITAOF, no check."""

    async def body(client: Any) -> None:
        store = store_over(client, Durability("none"))
        before = waitaof_calls(server.url)
        await store.append_audit([expired()])
        assert waitaof_calls(server.url) == before

    run(server.url, body)


def test_check_accepts_a_server_with_aof_and_waitaof(server: RedisServer) -> None:
    """The start check on Valkey with AOF on: `fsync` is given by WAITAOF; /readyz shows ready."""

    async def body(client: Any) -> None:
        durable = DurableWrites(client, FSYNC)
        verdict = await durable.start(5.0)
        assert verdict is not None
        assert verdict.plan is not None
        assert verdict.plan.waitaof
        assert durable.status() == {"level": "fsync", "ready": True, "problem": None}

    run(server.url, body)


def test_start_refuses_a_server_without_aof(redis_server_factory: RedisServerFactory) -> None:
    """A Valkey started with `--appendonly no` cannot give `fsync`: start-up stops with one line
    naming the setting and the ways out."""
    bare = redis_server_factory(appendonly=False)

    async def body(client: Any) -> None:
        with pytest.raises(DurabilityRefusedError) as refused:
            await DurableWrites(client, FSYNC).start(5.0)
        line = str(refused.value)
        assert "\n" not in line
        assert "COUNTERSIGN_DURABILITY=fsync cannot be given" in line
        assert "appendonly no" in line
        assert "appendfsync always" in line
        assert "COUNTERSIGN_DURABILITY=none" in line

    run(bare.url, body)


def test_serve_refuses_a_server_without_aof_in_one_line(
    tmp_path: Path, redis_server_factory: RedisServerFactory
) -> None:
    """`countersign serve`'s pre-start check returns the refusal (it prints it and exits)."""
    bare = redis_server_factory(appendonly=False)
    settings = load_settings(
        {
            "COUNTERSIGN_DEV": "1",
            "COUNTERSIGN_REDIS_URL": bare.url,
            "COUNTERSIGN_DATA_DIR": str(tmp_path),
            "COUNTERSIGN_REDIS_TIMEOUT": "2s",
        }
    )
    problem = asyncio.run(durability_refusal(settings.redis))
    assert problem is not None
    assert problem.startswith("COUNTERSIGN_DURABILITY=fsync cannot be given")


def test_none_starts_on_a_server_without_aof(redis_server_factory: RedisServerFactory) -> None:
    """`none` is an explicit choice: a server without AOF is accepted, with a warning verdict."""
    bare = redis_server_factory(appendonly=False)

    async def body(client: Any) -> None:
        verdict = await DurableWrites(client, Durability("none")).start(5.0)
        assert verdict is not None
        assert verdict.warning
        assert "may undo acknowledged" in verdict.reason

    run(bare.url, body)


def test_a_change_after_aof_is_turned_off_is_not_acknowledged(
    redis_server_factory: RedisServerFactory,
) -> None:
    """`CONFIG SET appendonly no` while running: the next change is not acknowledged (the
    server refuses WAITAOF), and the one after is refused before anything is written."""
    changing = redis_server_factory()

    async def body(client: Any) -> None:
        store = store_over(client, FSYNC)
        await store.append_audit([expired()])
        await client.config_set("appendonly", "no")
        with pytest.raises(UnconfirmedWriteError, match="appendonly"):
            await store.append_audit([expired()])
        written = await audit_length(client)
        with pytest.raises(DurabilityUnavailableError, match="appendonly no"):
            await store.append_audit([expired()])
        assert await audit_length(client) == written

    run(changing.url, body)


def test_replicas_without_a_replica_answer_unconfirmed_within_the_timeout(
    server: RedisServer,
) -> None:
    """`replicas:1` with no replica attached: the change is not acknowledged, and the store says
    so within about COUNTERSIGN_DURABILITY_TIMEOUT."""

    async def body(client: Any) -> None:
        store = store_over(client, ONE_REPLICA, timeout=0.5)
        durable = DurableWrites(client, ONE_REPLICA)
        verdict = await durable.start(5.0)
        assert verdict is not None
        assert verdict.warning  # possible in principle, not now: start goes on
        started = time.monotonic()
        with pytest.raises(UnconfirmedWriteError, match="0 of 1 replica"):
            await store.append_audit([expired()])
        assert time.monotonic() - started < 2.0

    run(server.url, body)


def test_a_real_replica_makes_replicas_1_succeed(redis_server_factory: RedisServerFactory) -> None:
    """A second Valkey with `--replicaof` acknowledges: `replicas:1` changes succeed, and the
    replica holds them when the store returns."""
    primary = redis_server_factory()
    replica = redis_server_factory(extra=["--replicaof", "127.0.0.1", str(primary.port)])
    wait_until(lambda: replica_online(primary), what="replica in sync")

    async def body(client: Any) -> int:
        store = store_over(client, ONE_REPLICA)
        await store.append_audit([expired()])
        await store.append_audit([expired()])
        return await audit_length(client)

    written = run(primary.url, body)
    assert written == 2
    # WAIT returned: the replica has both entries now, no polling needed.
    assert run(replica.url, audit_length) == written


def test_a_stalled_redis_is_store_unavailable_within_the_bound(
    redis_server_factory: RedisServerFactory,
) -> None:
    """Writes paused in Redis for 5 s: the transition fails as a store failure (not contention)
    after about one socket timeout, instead of retrying until Redis wakes up."""
    stalled = redis_server_factory()

    async def body(client: Any) -> float:
        store = RedisWorkflowStore(client, retention=RETENTION, redis_timeout=0.25)
        await store.append_audit([expired()])
        await client.execute_command("CLIENT", "PAUSE", 5000, "WRITE")
        started = time.monotonic()
        try:
            with pytest.raises(redis.RedisError) as failed:
                await store.append_audit([expired()])
            assert isinstance(failed.value, UnconfirmedWriteError | redis.TimeoutError)
            return time.monotonic() - started
        finally:
            await client.execute_command("CLIENT", "UNPAUSE")

    fast = Redis.from_url(stalled.url, socket_timeout=0.25)
    elapsed = asyncio.run(_closing(fast, body))
    assert elapsed < 2.0  # 8 x 0.25 s is the whole budget; one timeout is what it takes


def test_an_unrelated_write_is_not_held_behind_a_stalled_one(
    redis_server_factory: RedisServerFactory,
) -> None:
    """In one process, a transition stalled in one Redis does not hold a transition to another:
    no process-wide lock makes unrelated writes wait."""
    stalled, healthy = redis_server_factory(), redis_server_factory()

    async def body() -> float:
        slow: Any = Redis.from_url(stalled.url, socket_timeout=2.0)
        quick = Redis.from_url(healthy.url, socket_timeout=2.0)
        try:
            blocked = RedisWorkflowStore(slow, retention=RETENTION, redis_timeout=2.0)
            free = RedisWorkflowStore(quick, retention=RETENTION, redis_timeout=2.0)
            await blocked.append_audit([expired()])
            await free.append_audit([expired()])
            await slow.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
            try:
                stuck = asyncio.create_task(blocked.append_audit([expired()]))
                await _until_blocked(stalled)
                started = time.monotonic()
                await free.append_audit([expired("grafana")])
                elapsed = time.monotonic() - started
                assert not stuck.done()
            finally:
                await slow.execute_command("CLIENT", "UNPAUSE")
            with contextlib.suppress(redis.RedisError):  # released or timed out: either is fine
                await stuck
            return elapsed
        finally:
            await slow.aclose()
            await quick.aclose()

    assert asyncio.run(body()) < 1.0


def test_a_write_queued_behind_a_stalled_one_waits_one_timeout_at_most(
    redis_server_factory: RedisServerFactory,
) -> None:
    """Writes paused in Redis for 10 s: a second transition of the same store, started while the
    first is held, fails as a store failure after about two socket timeouts, not after the
    pause (the turn is given back as soon as the first one's timeout surfaces)."""
    stalled = redis_server_factory()

    async def body() -> float:
        client: Any = Redis.from_url(stalled.url, socket_timeout=0.5)
        try:
            store = RedisWorkflowStore(client, retention=RETENTION, redis_timeout=0.5)
            await store.append_audit([expired()])
            await client.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
            try:
                first = asyncio.create_task(store.append_audit([expired()]))
                await _until_blocked(stalled)
                started = time.monotonic()
                with pytest.raises(redis.RedisError):
                    await store.append_audit([expired("grafana")])
                elapsed = time.monotonic() - started
            finally:
                await client.execute_command("CLIENT", "UNPAUSE")
            with contextlib.suppress(redis.RedisError):
                await first
            return elapsed
        finally:
            await client.aclose()

    assert asyncio.run(body()) < 2.5  # two 0.5 s timeouts; the budget would be 4 s


def test_on_a_cluster_each_wait_goes_to_the_node_that_holds_the_data(tmp_path: Path) -> None:
    """Redis Cluster (three masters): changes are confirmed with WAITAOF on the node that owns
    the `{cs}` slot, the node the transition wrote to, and on no other."""
    cluster = start_cluster(tmp_path / "cluster")
    try:
        owner = cluster.owner_of(PROBE_KEY)
        urls = {node.port: f"redis://127.0.0.1:{node.port}/0" for node in cluster.nodes}

        async def body() -> int:
            client = connect(cluster.url, mode="cluster", timeout=2.0)
            try:
                store = store_over(client, FSYNC)
                await store.append_audit([expired()])  # checks the owner, then waits there
                before = {port: waitaof_calls(url) for port, url in urls.items()}
                await store.append_audit([expired()])
                await store.append_audit([expired()])
                after = {port: waitaof_calls(url) for port, url in urls.items()}
                assert {p: after[p] - before[p] for p in urls} == {
                    p: 2 if p == owner.port else 0 for p in urls
                }
                return int(await client.xlen(AUDIT_KEY))
            finally:
                await client.aclose()

        assert asyncio.run(body()) == 3
    finally:
        cluster.stop()


async def _until_blocked(server: RedisServer, within: float = 10.0) -> None:
    """Wait until a client of `server` is held by the pause (its EXEC waits)."""
    probe = Redis.from_url(server.url)
    try:
        deadline = time.monotonic() + within
        while True:
            if int((await probe.info("clients"))["blocked_clients"]) > 0:
                return
            if time.monotonic() > deadline:
                pytest.fail("no client was held by CLIENT PAUSE")
            await asyncio.sleep(0.02)
    finally:
        await probe.aclose()


async def _closing(client: Any, body: Callable[[Any], Awaitable[T]]) -> T:
    try:
        return await body(client)
    finally:
        await client.aclose()
