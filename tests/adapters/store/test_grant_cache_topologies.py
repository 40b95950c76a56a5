"""Where the grant cache's tracking channel connects (real Valkey processes): the server that
holds the `{cs}` keys, with the data client's credentials; when that server changes — a
Sentinel failover, a Cluster slot moved to another node — the cache is emptied and the channel
comes back on the new one."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import redis

from app.adapters.store.connection import connect
from app.adapters.store.grant_cache import CachedGrants
from app.adapters.store.keys import grant_key
from app.adapters.store.tracking_target import topology_of
from app.core.approvals import Person, Scope
from app.core.decision import GrantState
from tests.support import waiting
from tests.support.ports import LOOPBACK
from tests.support.redis_server import RedisServerFactory
from tests.support.redis_topologies import (
    MASTER_NAME,
    Cluster,
    Node,
    start_cluster,
    start_sentinel_set,
)
from tests.support.workflow import Clock

T = TypeVar("T")
ALICE = Person("https://idp.example.com", "u-alice")
GRAFANA = Scope("grafana", "f" * 64)
DEADLINE = 30.0
#: Every wait of this module: `waiting.until` with this module's deadline.
until = functools.partial(waiting.until, within=DEADLINE)
#: Short, so that a moved slot is noticed quickly; the default is PROBE_INTERVAL.
PROBE = 0.1


def following(client: Any, body: Callable[[CachedGrants], Awaitable[T]]) -> T:
    """Run `body` with a cache over `client` whose channel is up."""

    async def go() -> T:
        cached = CachedGrants.over(client, clock=Clock(), timeout=2.0, probe_interval=PROBE)
        task = asyncio.create_task(cached.run())
        try:
            await until(lambda: cached.channel.live, what="the channel up")
            return await body(cached)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await client.aclose()

    return asyncio.run(go())


def write_and_wait(port: int, *commands: tuple[Any, ...]) -> None:
    """Write on the server at `port` and wait for its AOF, blocking the caller's loop."""
    with redis.Redis(host=LOOPBACK, port=port, socket_timeout=5.0) as client:
        for command in commands:
            client.execute_command(*command)
        client.execute_command("WAITAOF", 1, 0, 2000)


async def read(cached: CachedGrants) -> GrantState:
    """ALICE's Grafana state through the cache."""
    return await cached.cache.grant_state(ALICE, GRAFANA)


async def cached_once(cached: CachedGrants) -> None:
    """Read until an answer comes from memory (a read that meets a probe's reply still unread
    on the socket goes to Redis, as it must)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        hits = cached.cache.counts.hits
        await read(cached)
        if cached.cache.counts.hits > hits:
            return
        assert time.monotonic() < deadline, "no answer from memory"


#: An access key's value as the workflow store writes it: a grant for the next hour.
GRANT = json.dumps({"id": "g1", "expires_at": time.time() + 3600, "policy": GRAFANA.policy})


def test_sentinel_failover_empties_the_cache_and_follows_the_new_master(tmp_path: Path) -> None:
    """SENTINEL FAILOVER: the channel is lost (flush), comes back on the promoted server, and
    a grant written there is seen at once."""
    topology = start_sentinel_set(tmp_path / "sentinel")
    try:
        old = topology.primary_port()
        assert old is not None
        client = connect(topology.url, mode="sentinel", sentinel_master=MASTER_NAME, timeout=2.0)

        async def body(cached: CachedGrants) -> tuple[int, int, GrantState]:
            assert cached.channel.endpoint is not None
            tracked_before = cached.channel.endpoint.port
            await cached_once(cached)
            with redis.Redis(host=LOOPBACK, port=topology.sentinels[0].port) as sentinel:
                sentinel.execute_command("SENTINEL", "FAILOVER", MASTER_NAME)
            await until(lambda: cached.cache.counts.lost >= 1, what="the channel lost")
            emptied = cached.cache.size
            new = await asyncio.to_thread(topology.wait_promoted, old)
            await until(
                lambda: (
                    cached.channel.live
                    and cached.channel.endpoint is not None
                    and cached.channel.endpoint.port == new
                ),
                what="the channel on the new master",
            )
            await cached_once(cached)
            write_and_wait(new, ("SET", grant_key(ALICE, GRAFANA), GRANT))
            return tracked_before, emptied, await read(cached)

        tracked_before, emptied, after = following(client, body)
        assert (tracked_before, emptied) == (old, 0)
        assert after.grant_id == "g1"
    finally:
        topology.stop()


def node_id(node: Node) -> str:
    """The node's cluster id."""
    with redis.Redis(host=LOOPBACK, port=node.port) as client:
        raw = client.execute_command("CLUSTER", "MYID")
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def move_slot(cluster: Cluster, slot: int, source: Node, target: Node) -> None:
    """Reshard one slot from `source` to `target`, keys included, as `--cluster reshard` does."""
    source_id, target_id = node_id(source), node_id(target)
    with (
        redis.Redis(host=LOOPBACK, port=source.port) as src,
        redis.Redis(host=LOOPBACK, port=target.port) as dst,
    ):
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            src.execute_command("MIGRATE", LOOPBACK, target.port, "", 0, 5000, "KEYS", *keys)
        for node in (target, source, *cluster.nodes):
            with redis.Redis(host=LOOPBACK, port=node.port) as each:
                each.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)


def test_cluster_tracks_the_slot_owner_and_follows_a_moved_slot(tmp_path: Path) -> None:
    """The channel listens to the node serving `{cs}`; after the slot moves, the cache is
    emptied, the channel comes back on the new owner, and a grant revoked there is gone at
    once."""
    cluster = start_cluster(tmp_path / "cluster")
    try:
        key = grant_key(ALICE, GRAFANA)
        owner = cluster.owner_of(key)
        target = next(node for node in cluster.nodes if node.port != owner.port)
        with redis.Redis(host=LOOPBACK, port=owner.port) as probe:
            slot = int(probe.execute_command("CLUSTER", "KEYSLOT", key))
        client = connect(cluster.url, mode="cluster", timeout=2.0)

        async def body(cached: CachedGrants) -> tuple[int, int, GrantState, GrantState]:
            assert cached.channel.endpoint is not None
            tracked_before = cached.channel.endpoint.port
            write_and_wait(owner.port, ("SET", key, GRANT))
            await cached_once(cached)
            granted = await read(cached)
            await asyncio.to_thread(move_slot, cluster, slot, owner, target)
            await until(
                lambda: (
                    cached.channel.live
                    and cached.channel.endpoint is not None
                    and cached.channel.endpoint.port == target.port
                ),
                what="the channel on the new owner",
            )
            await cached_once(cached)
            write_and_wait(target.port, ("DEL", key))
            return tracked_before, cached.cache.counts.lost, granted, await read(cached)

        tracked_before, lost, granted, after = following(client, body)
        assert (tracked_before, lost) == (owner.port, 1)
        assert (granted.grant_id, after.grant_id) == ("g1", None)
    finally:
        cluster.stop()


def test_a_password_protected_server_is_tracked_with_the_clients_password(
    redis_server_factory: RedisServerFactory,
) -> None:
    """requirepass on the server: the channel signs in with the data client's password."""
    own = redis_server_factory()
    with redis.Redis(host=LOOPBACK, port=own.port) as admin:
        admin.config_set("requirepass", "s3cret")
    client = connect(own.url, password="s3cret", timeout=2.0)

    async def body(cached: CachedGrants) -> GrantState:
        await cached_once(cached)
        with redis.Redis(host=LOOPBACK, port=own.port, password="s3cret") as writer:
            writer.set(grant_key(ALICE, GRAFANA), GRANT)
            writer.execute_command("WAITAOF", 1, 0, 2000)
        return await read(cached)

    assert following(client, body).grant_id == "g1"


def test_a_tls_url_gives_the_channel_the_same_tls_settings() -> None:
    """rediss:// (no server needed): the channel's endpoint verifies like the data client —
    the certificate and host name by default, nothing with ssl_cert_reqs=none — and its repr
    shows no password."""
    strict = asyncio.run(topology_of(connect("rediss://:s3cret@redis.internal:6380/0")).locate())
    lax = asyncio.run(
        topology_of(connect("rediss://redis.internal:6380/0?ssl_cert_reqs=none")).locate()
    )
    assert strict.tls is not None
    assert lax.tls is not None
    assert (strict.tls.verify_mode, strict.server_hostname) == (ssl.CERT_REQUIRED, "redis.internal")
    assert (lax.tls.verify_mode, lax.server_hostname) == (ssl.CERT_NONE, None)
    assert strict.password == "s3cret"
    assert "s3cret" not in repr(strict)
