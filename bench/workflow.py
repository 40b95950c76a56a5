"""`make bench` (second part): the second opinion's write path and the hot path at volume.

Prints submit+approve round trips per second (one service against a real Redis with AOF on, one
at a time and 20 at once) at each COUNTERSIGN_DURABILITY level: `none` and `fsync` (WAITAOF) with
`appendfsync everysec` and `always`, and `replicas:1` (WAIT, a second server as replica); then
/auth/nginx req/s through an approval grant with an empty store vs with 100,000 active grants
and 100,000 terminal requests in Redis.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from redis.asyncio import Redis

from app.adapters.observability.logs import configure_logging
from app.adapters.store.durability import DurableWrites
from app.adapters.store.keys import grant_key
from app.adapters.store.listing import RedisListings
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.config.settings import Durability
from app.core.approvals import Person
from app.core.context import AccessContext, Device, Identity
from app.core.policy.compile import compile_policy_set
from app.services.approvals import ApprovalService
from app.services.policy_files import load_sources
from app.services.principal import Principal
from bench.forward_auth import grafana_scope, seed_grant, wrk
from tests.support.countersign import start_countersign
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer, start_redis_server

ROOT = Path(__file__).resolve().parents[1]
BOB = Identity("bob", "bob@example.com", frozenset({"sre", "sre-leads"}))
VOLUME = 100_000


def engineer(n: int) -> Identity:
    return Identity(f"eng{n}", f"eng{n}@example.com", frozenset({"engineering"}))


FSYNC = Durability("fsync")


async def round_trips(
    url: str, count: int, concurrency: int, durability: Durability = FSYNC
) -> float:
    """submit + approve pairs per second, each change confirmed as `durability` asks, by one
    service (one replica's store and connection pool) serving `concurrency` requests at once."""
    policies = compile_policy_set(load_sources(ROOT / "policy_rules"))
    client = Redis.from_url(url, socket_timeout=2.0)
    await client.flushdb()  # the same people ask in every run: start from nothing
    service = ApprovalService(
        policies=lambda: policies,
        store=RedisWorkflowStore(
            client,
            retention=timedelta(days=400),
            durability=DurableWrites(client, durability, redis_timeout=2.0),
            redis_timeout=2.0,
        ),
        listings=RedisListings(client),
        clock=lambda: datetime.now(UTC),
    )
    counter = iter(range(count))

    async def worker() -> None:
        for n in counter:
            user = engineer(n)
            context = AccessContext(
                "grafana.example.com", "/", identity=user, device=Device(managed=True)
            )
            outcome = await service.request_access(
                Principal(user),
                application="grafana",
                context=context,
                justification="INC-4242 load test",
                duration=None,
            )
            assert outcome.request is not None
            await service.approve(
                Principal(BOB), outcome.request.id, duration=timedelta(minutes=30), comment=None
            )

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await client.aclose()
    return count / elapsed


def populate(url: str) -> None:
    """100,000 active grants and 100,000 terminal requests, written as the store writes them."""
    client = redis.Redis.from_url(url)
    now = time.time()
    pipe = client.pipeline(transaction=False)
    scope = grafana_scope()
    for n in range(VOLUME):
        user = f"bulk{n}@example.com"
        grant_id = f"grt_bulk{n}"
        expires = now + 3600
        pipe.set(
            grant_key(Person("https://idp.example.com", user), scope),
            json.dumps({"id": grant_id, "expires_at": expires, "policy": scope.policy}),
            pxat=int(expires * 1000),
        )
        pipe.set(f"cs:{{cs}}:grant:{grant_id}", json.dumps({"id": grant_id, "user": user}))
        pipe.zadd("cs:{cs}:idx:grants:active", {grant_id: expires})
        pipe.set(
            f"cs:{{cs}}:req:req_bulk{n}",
            json.dumps({"id": f"req_bulk{n}", "status": "denied"}),
            ex=400 * 86400,
        )
        pipe.zadd("cs:{cs}:idx:requests", {f"req_bulk{n}": now - n})
        if n % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    keys = client.dbsize()
    client.close()
    print(f"populated: {keys} keys")


def durability_rows(base: Path) -> list[tuple[str, float, float]]:
    """(level and server, 1 at a time, 20 at once) round trips/s: `none` and `fsync` on a
    standalone server with `appendfsync everysec` and with `always`, `replicas:1` on a primary
    (`always`) with one replica."""
    everysec = start_redis_server(base / "everysec", extra=["--appendfsync", "everysec"])
    primary = start_redis_server(base / "primary")
    replica = start_redis_server(
        base / "replica", extra=["--replicaof", "127.0.0.1", str(primary.port)]
    )
    cases = [
        ("none, everysec", everysec, Durability("none")),
        ("fsync, everysec (WAITAOF)", everysec, Durability("fsync")),
        ("none, always", primary, Durability("none")),
        ("fsync, always", primary, Durability("fsync")),
        ("replicas:1, always + 1 replica", primary, Durability("replicas", 1)),
    ]
    try:
        wait_for_replica(primary)
        rows = []
        for name, server, level in cases:
            seq = asyncio.run(round_trips(server.url, 100, 1, level))
            par = asyncio.run(round_trips(server.url, 400, 20, level))
            rows.append((name, seq, par))
        return rows
    finally:
        for server in (replica, primary, everysec):
            server.stop()


def wait_for_replica(primary: RedisServer, timeout: float = 30.0) -> None:
    """Until the primary's replica has finished its first sync."""
    client = redis.Redis.from_url(primary.url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            state = client.info("replication").get("slave0")
            if isinstance(state, dict) and state.get("state") == "online":
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not come online")
            time.sleep(0.05)
    finally:
        client.close()


def main() -> int:
    configure_logging(level="warning")  # one log line per transition would be measured too
    base = Path(tempfile.mkdtemp(prefix="countersign-bench-wf-"))
    try:
        levels = durability_rows(base / "durability")
        server = start_redis_server(base / "redis")
        try:
            seq = asyncio.run(round_trips(server.url, 300, 1))
            par = asyncio.run(round_trips(server.url, 600, 20))
            public_url = f"http://auth.example.com:{free_port()}"
            service = start_countersign(
                base / "cs",
                redis_url=server.url,
                policy_dir=ROOT / "policy_rules",
                public_url=public_url,
            )
            try:
                alice = service.mint(email="alice@example.com", groups=["engineering"])
                client = redis.Redis.from_url(server.url)
                seed_grant(client, public_url=public_url, seconds=7200, grant_id="g")
                client.close()
                headers = {
                    "X-Original-URL": "https://grafana.example.com/d/1",
                    "X-Original-Method": "GET",
                    "Authorization": f"Bearer {alice}",
                }
                url = f"{service.base_url}/auth/nginx"
                empty = wrk("(c) grant, small store", url, headers)
                populate(server.url)
                full = wrk("(c) grant, 100k grants + 100k requests", url, headers)
            finally:
                service.stop()
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(
        f"{'DURABILITY, appendfsync':32s} {'round trips/s, 1 at a time':>28s} {'20 at once':>11s}"
    )
    for level, one, many in levels:
        print(f"{level:32s} {one:28.0f} {many:11.0f}")
    print(f"{'case':44s} {'value':>10s}")
    print(f"{'submit+approve round trips/s, 1 at a time':44s} {seq:10.0f}")
    print(f"{'submit+approve round trips/s, 20 at once':44s} {par:10.0f}")
    for r in (empty, full):
        print(
            f"{r.name + ' req/s':44s} {r.rps:10.0f}   p50 {r.p50_ms:.2f} ms  p99 {r.p99_ms:.2f} ms"
        )
    change = (full.rps - empty.rps) / empty.rps * 100
    print(f"req/s with the full store vs the small one: {change:+.1f}% (goal: within 10%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
