"""`make bench` (second part): the second opinion's write path and the hot path at volume.

Prints submit+approve round trips per second (service and store against a real Redis, one at
a time and 20 at once), and /auth/nginx req/s through an approval grant with an empty store vs
with 100,000 active grants and 100,000 terminal requests in Redis.
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

from app.adapters.store.keys import RedisIndexes, grant_key
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.core.approvals import Person
from app.core.context import AccessContext, Device, Identity
from app.core.policy.compile import compile_policy_set
from app.services.approvals import ApprovalService
from app.services.policy_files import load_sources
from app.services.principal import Principal
from bench.forward_auth import grafana_scope, seed_grant, wrk
from tests.support.countersign import start_countersign
from tests.support.ports import free_port
from tests.support.redis_server import start_redis_server

ROOT = Path(__file__).resolve().parents[1]
BOB = Identity("bob", "bob@example.com", frozenset({"sre", "sre-leads"}))
VOLUME = 100_000


def engineer(n: int) -> Identity:
    return Identity(f"eng{n}", f"eng{n}@example.com", frozenset({"engineering"}))


async def round_trips(url: str, count: int, concurrency: int) -> float:
    """submit + approve pairs per second."""
    policies = compile_policy_set(load_sources(ROOT / "policy_rules"))
    clients = [Redis.from_url(url) for _ in range(concurrency)]
    services = [
        ApprovalService(
            policies=lambda: policies,
            store=RedisWorkflowStore(c, retention=timedelta(days=400)),
            indexes=RedisIndexes(),
            clock=lambda: datetime.now(UTC),
        )
        for c in clients
    ]
    counter = iter(range(count))

    async def worker(service: ApprovalService, offset: int) -> None:
        for n in counter:
            user = engineer(offset * 1_000_000 + n)
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
    await asyncio.gather(*(worker(s, i) for i, s in enumerate(services)))
    elapsed = time.perf_counter() - started
    for c in clients:
        await c.aclose()
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


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="countersign-bench-wf-"))
    try:
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
