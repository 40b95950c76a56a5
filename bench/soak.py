"""`make soak`: Redis memory per request story, and what retention gives back.

Drives N stories (ALICE-like engineers ask for Grafana, BOB approves, the engineer ends the
grant) through ApprovalService and RedisWorkflowStore against a real Valkey, then prints
`used_memory` per story and the key count at three points: everything kept; the records
expired by their TTL (end plus the request retention) but indexes and the audit log untouched,
which is where Redis stood before index and audit trimming existed; and after the sweeper's
retention trimming. The store's clock runs behind the real one so that the records of a story
expire (on Redis's real clock) seconds after the run instead of after 400 days.

    .venv/bin/python -m bench.soak [STORIES]
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from app.adapters.store.durability import DurableWrites
from app.adapters.store.keys import AUDIT_KEY, OUTBOX_KEY
from app.adapters.store.listing import RedisListings
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.adapters.store.retention import Retention
from app.config.settings import Durability
from app.core.context import AccessContext, Device, Identity
from app.core.policy.compile import compile_policy_set
from app.services.approvals import ApprovalService
from app.services.policy_files import load_sources
from app.services.principal import Principal
from tests.support.redis_server import start_redis_server

ROOT = Path(__file__).resolve().parents[1]
BOB = Identity("bob", "bob@example.com", frozenset({"sre", "sre-leads"}))
STORIES = 2000
#: The store's clock runs this far behind; the request retention is this plus a margin
#: longer than the run, so an ended record expires (real time) only after every story ran.
BEHIND = timedelta(hours=2)
#: Audit entries older than this (real time) are trimmed by the final sweeps.
AUDIT_RETENTION = timedelta(seconds=5)


def engineer(n: int) -> Identity:
    """The n-th requester: one person per story, as in a large organisation."""
    return Identity(f"eng{n}", f"eng{n}@example.com", frozenset({"engineering"}))


def clock() -> datetime:
    """The store's clock, BEHIND the real one."""
    return datetime.now(UTC) - BEHIND


async def story(service: ApprovalService, n: int) -> None:
    """Ask, approve, end early."""
    user = engineer(n)
    context = AccessContext("grafana.example.com", "/", identity=user, device=Device(managed=True))
    asked = await service.request_access(
        Principal(user),
        application="grafana",
        context=context,
        justification=f"INC-{n:05} dashboards are blank",
        duration=None,
    )
    assert asked.request is not None
    approved = await service.approve(
        Principal(BOB), asked.request.id, duration=timedelta(minutes=30), comment="ok"
    )
    assert approved.grant_id is not None
    await service.revoke(Principal(user), approved.grant_id, reason="done")


Point = tuple[int, int, int, int, int]


async def measure(client: Any) -> Point:
    """used_memory, used_memory_dataset, key count, and the audit and outbox streams' own
    memory (bytes)."""
    memory = await client.info("memory")
    keys = int(await client.dbsize())
    streams = [int(await client.memory_usage(k, samples=0) or 0) for k in (AUDIT_KEY, OUTBOX_KEY)]
    return (
        int(memory["used_memory"]),
        int(memory["used_memory_dataset"]),
        keys,
        streams[0],
        streams[1],
    )


async def soak(url: str, stories: int) -> list[tuple[str, Point]]:
    """Run the stories and the sweeps; the measurements, labelled."""
    client = Redis.from_url(url)
    try:
        await client.flushdb()
        baseline = await measure(client)
        policies = compile_policy_set(load_sources(ROOT / "policy_rules"))
        retention = BEHIND + timedelta(seconds=60 + stories / 25)
        # Memory, not durability, is measured: no fsync wait after each transition.
        store = RedisWorkflowStore(
            client, retention=retention, durability=DurableWrites(client, Durability("none"))
        )
        service = ApprovalService(
            policies=lambda: policies, store=store, listings=RedisListings(client), clock=clock
        )
        started = time.perf_counter()
        for n in range(stories):
            await story(service, n)
        print(f"{stories} stories in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        kept = await measure(client)
        await wait_for_expiry(client, deadline=time.monotonic() + 120 + stories / 25)
        expired = await measure(client)
        sweeper = Retention(client, records=retention, audit_log=AUDIT_RETENTION)
        await asyncio.sleep(AUDIT_RETENTION.total_seconds())
        while True:  # the sweeper's ticks, back to back
            report = await sweeper.trim(datetime.now(UTC))
            if not (report.index_entries or report.audit_entries) and report.scan_wrapped:
                break
        trimmed = await measure(client)
        return [
            ("baseline", baseline),
            ("all kept", kept),
            ("records expired", expired),
            ("trimmed", trimmed),
        ]
    finally:
        await client.aclose()


async def wait_for_expiry(client: Any, *, deadline: float) -> None:
    """Until no request or grant record is left (Redis expires them on its own clock)."""
    while time.monotonic() < deadline:
        left = [k async for k in client.scan_iter(match="cs:{cs}:req:*", count=1000)]
        left += [k async for k in client.scan_iter(match="cs:{cs}:grant:*", count=1000)]
        if not left:
            return
        await asyncio.sleep(1)
    raise RuntimeError("records did not expire in time")


def report(rows: list[tuple[str, Point]], stories: int) -> None:
    """One line per point: used_memory and dataset bytes per story over the baseline, keys,
    and the two streams."""
    used0, dataset0 = rows[0][1][0], rows[0][1][1]
    print(f"{stories} stories (ask, approve, end early)")
    print(
        f"{'point':<16} {'used B/story':>12} {'dataset B/story':>16} {'keys':>7} "
        f"{'audit KB':>9} {'outbox KB':>10}"
    )
    for label, (used, dataset, keys, audit_bytes, outbox_bytes) in rows:
        print(
            f"{label:<16} {(used - used0) / stories:>12.0f} {(dataset - dataset0) / stories:>16.0f}"
            f" {keys:>7} {audit_bytes / 1024:>9.0f} {outbox_bytes / 1024:>10.0f}"
        )


def main() -> int:
    """Start Valkey, soak, print."""
    stories = int(sys.argv[1]) if len(sys.argv) > 1 else STORIES
    base = Path(tempfile.mkdtemp(prefix="countersign-soak-"))
    try:
        server = start_redis_server(base / "redis")
        try:
            report(asyncio.run(soak(server.url, stories)), stories)
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
