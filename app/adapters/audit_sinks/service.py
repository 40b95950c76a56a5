"""The audit streamer as the service runs it: one runner per configured sink, in tasks of their
own over a Redis client of their own, built from Settings; None when no sink is configured.
Also what /metrics shows per sink: how many entries wait (backlog) and how old the oldest of
them is (lag), read from the cursors at each scrape, the same on every replica."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, assert_never

from app.adapters.audit_sinks.base import Sink
from app.adapters.audit_sinks.cursor import SinkCursor
from app.adapters.audit_sinks.files import FileSender
from app.adapters.audit_sinks.http import HttpSender
from app.adapters.audit_sinks.records import AuditRecord
from app.adapters.audit_sinks.runner import SinkObserver, SinkRunner, StreamOptions
from app.adapters.audit_sinks.syslog import SyslogSender
from app.adapters.store.connection import connect_for
from app.config.audit_sinks import AuditSink, AuditStreamSettings, FileSink, HttpSink, SyslogSink
from app.config.settings import RedisSettings


def build_sink(config: AuditSink, *, timeout: float) -> Sink:
    """The sender of one sink. The match is exhaustive (mypy checks it): a new kind cannot
    silently become another kind's sender."""
    match config:
        case HttpSink():
            return HttpSender(config, timeout=timeout)
        case SyslogSink():
            return SyslogSender(config)
        case FileSink():
            return FileSender(config)
        case unreachable:
            assert_never(unreachable)


def options_from(settings: AuditStreamSettings) -> StreamOptions:
    """Runner timings from the AUDIT_SINK_* settings: the lease outlasts a delivery's timeout."""
    timeout = settings.sink_timeout.total_seconds()
    return StreamOptions(
        batch=settings.sink_batch,
        timeout=timeout,
        retry_max=settings.sink_retry_max.total_seconds(),
        lease=max(30.0, 3 * timeout),
    )


def replica_token() -> str:
    """This process's name on the leases it holds: host, pid and a random part."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class SinkProgress:
    """One sink's backlog (entries not yet acknowledged) and lag (seconds since the oldest of
    them was written; 0 with no backlog)."""

    backlog: int
    lag: float


class AuditStreamer:
    """Runs every sink's runner; stops them and closes its client at the end."""

    def __init__(self, runners: list[SinkRunner], *, redis: Any, options: StreamOptions) -> None:
        self.runners = runners
        self._redis = redis
        self._options = options
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start delivering (in the running event loop)."""
        self._tasks = [
            asyncio.create_task(r.run(), name=f"audit-sink-{r.name}") for r in self.runners
        ]

    async def aclose(self) -> None:
        """Stop each runner after its step (giving its lease up), then close the client.
        Cancelling is the last resort, for a sink stuck past its timeout."""
        for runner in self.runners:
            runner.stop()
        if self._tasks:
            grace = self._options.block + self._options.timeout + 1.0
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
            self._tasks = []
        else:
            for runner in self.runners:
                await runner.close()
        await self._redis.aclose()


def build_streamer(
    settings: AuditStreamSettings,
    *,
    redis: RedisSettings,
    observer: SinkObserver | None = None,
    token: str | None = None,
) -> AuditStreamer | None:
    """The audit streamer of one process, or None without sinks."""
    if not settings.sinks or redis.url is None:
        return None
    options = options_from(settings)
    # A client of its own: a read blocks longer than the request path's socket timeout.
    client = connect_for(redis, timeout=max(redis.timeout.total_seconds(), options.block + 5.0))
    token = token or replica_token()
    runners = [
        SinkRunner(
            sink.name,
            sink=build_sink(sink, timeout=options.timeout),
            cursor=SinkCursor(client, sink.name, start=sink.start),
            token=token,
            options=options,
            observer=observer,
        )
        for sink in settings.sinks
    ]
    return AuditStreamer(runners, redis=client, options=options)


async def progress(
    client: Any, sinks: Iterable[AuditSink], *, now: Callable[[], datetime]
) -> dict[str, SinkProgress]:
    """Backlog and lag of each sink, from its cursor (a sink never started counts from where
    it will start)."""
    found: dict[str, SinkProgress] = {}
    for sink in sinks:
        cursor = SinkCursor(client, sink.name, start=sink.start)
        position = await cursor.position(create=False)
        batch = await cursor.read(position, limit=1)
        if not batch.rows:
            found[sink.name] = SinkProgress(0, 0.0)
            continue
        oldest = AuditRecord.of(batch.rows[0]).written
        lag = max(0.0, (now() - oldest).total_seconds())
        found[sink.name] = SinkProgress(max(1, batch.total - position.count), lag)
    return found
