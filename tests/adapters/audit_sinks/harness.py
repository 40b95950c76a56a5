"""Audit streaming over a real Redis for the sink tests: entries appended through the
workflow store's own transaction path, streamers built as the service builds them (one per
"replica"), fast timings, and waits on conditions.

ROOT (an admin) ends the sessions of one person after another: each is one audit entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr
from redis.asyncio import Redis

from app.adapters.audit_sinks.cursor import SinkCursor, cursor_key
from app.adapters.audit_sinks.runner import SinkRunner, StreamOptions
from app.adapters.audit_sinks.service import AuditStreamer, build_sink
from app.adapters.store.audit import entries
from app.adapters.store.connection import connect
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.config.audit_sinks import AuditSink, HttpSink
from app.core.approvals.events import Event, EventType

SECRET = "siem-signing-key"
FAST = StreamOptions(
    batch=5,
    timeout=5.0,
    retry_base=0.05,
    retry_max=0.2,
    lease=3.0,
    block=0.1,
    standby_poll=0.05,
)


class Counts:
    """What the runners report, per (sink, what)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def _add(self, sink: str, what: str, n: int = 1) -> None:
        self.counts[(sink, what)] = self.counts.get((sink, what), 0) + n

    def audit_sink_delivered(self, sink: str, entries: int) -> None:
        """Observer hook."""
        self._add(sink, "delivered", entries)

    def audit_sink_failed(self, sink: str) -> None:
        """Observer hook."""
        self._add(sink, "failed")

    def audit_sink_gap(self, sink: str) -> None:
        """Observer hook."""
        self._add(sink, "gap")

    def of(self, sink: str, what: str) -> int:
        """How many so far."""
        return self.counts.get((sink, what), 0)


def http_sink(url: str, name: str = "siem", **changes: Any) -> HttpSink:
    """A signed HTTP sink."""
    sink = HttpSink(name=name, url=SecretStr(url), secret=SecretStr(SECRET))
    return sink.model_copy(update=changes)


async def append(client: Redis, count: int, *, first: int = 0) -> list[str]:
    """`count` audit entries (ROOT ending sessions), through the workflow store; their ids."""
    store = RedisWorkflowStore(client, retention=timedelta(days=30))
    before = await newest_id(client)
    for n in range(first, first + count):
        await store.append_audit(
            [
                Event(
                    type=EventType.SESSIONS_REVOKED,
                    at=datetime.now(UTC),
                    application="",
                    user=f"user-{n}@example.com",
                    actor="root@example.com",
                    data={"issuer": "https://idp.example.com", "subject": f"u-{n}"},
                )
            ]
        )
    return [row[0] async for row in entries(client, after=before)]


async def newest_id(client: Redis) -> str | None:
    """The id of the newest audit entry, if any."""
    rows = [row async for row in entries(client)]
    return rows[-1][0] if rows else None


async def all_ids(client: Redis) -> list[str]:
    """Every audit entry id, oldest first."""
    return [row[0] async for row in entries(client)]


@asynccontextmanager
async def streaming(
    url: str,
    sinks: Sequence[AuditSink],
    *,
    options: StreamOptions = FAST,
    observer: Counts | None = None,
    replica: str = "replica-a",
) -> AsyncIterator[AuditStreamer]:
    """A running streamer (its own Redis client) for `sinks` until the block ends."""
    client = connect(url, timeout=options.block + 5.0)
    runners = [
        SinkRunner(
            sink.name,
            sink=build_sink(sink, timeout=options.timeout),
            cursor=SinkCursor(client, sink.name, start=sink.start),
            token=replica,
            options=options,
            observer=observer,
        )
        for sink in sinks
    ]
    streamer = AuditStreamer(runners, redis=client, options=options)
    streamer.start()
    try:
        yield streamer
    finally:
        await asyncio.wait_for(streamer.aclose(), timeout=options.block + options.timeout + 5)


async def cursor_at(client: Redis, sink: str) -> str | None:
    """The entry id a sink's cursor names."""
    raw = await client.hget(cursor_key(sink), "id")
    return raw.decode() if raw is not None else None
