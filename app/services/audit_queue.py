"""Audit events waiting for the audit log: kept in order until the trail takes them.

A policy reload must neither wait for Redis nor fail with it: it adds its event here (from any
thread) and `record_forever` writes the queue as soon as it can. A failed write is logged
loudly, counted, and tried again later with the same events, so a Redis that was down when a
replica started still learns which policy set it loaded. The queue is bounded: when the trail
stays away that long, the oldest events are dropped, each drop logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Sequence

import structlog

from app.core.approvals.events import Event
from app.services.ports import AuditTrail

log = structlog.get_logger("countersign.audit")

#: Events kept while the trail fails; a policy change every few seconds for an hour fits.
LIMIT = 1000
#: The longest pause between writes that keep failing: one log line a minute while Redis is away.
MAX_RETRY = 60.0


def _ignore(_kinds: Sequence[str]) -> None:
    """No metrics (tests, one-off commands)."""


class PendingAudit:
    """Events not yet in the audit log, oldest first. `on_failure` is told the event types of
    every write that failed (the metric)."""

    def __init__(
        self, *, limit: int = LIMIT, on_failure: Callable[[Sequence[str]], None] = _ignore
    ) -> None:
        self._events: deque[Event] = deque()
        self._limit = limit
        self._on_failure = on_failure
        # Reloads run in a worker thread; the writer runs on the event loop.
        self._lock = threading.Lock()
        self._wake: Callable[[], None] | None = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def add(self, event: Event) -> None:
        """Queue `event` behind the others (safe from any thread) and wake the writer."""
        with self._lock:
            if len(self._events) >= self._limit:
                dropped = self._events.popleft()
                log.error("audit_event_dropped", type=dropped.type.value, at=str(dropped.at))
            self._events.append(event)
            wake = self._wake
        if wake is not None:
            wake()

    async def record(self, trail: AuditTrail) -> bool:
        """Write every queued event to `trail` in one append; True when none is left waiting.
        A failure keeps them queued, and never raises: it is logged and counted."""
        with self._lock:
            batch = list(self._events)
        if not batch:
            return True
        try:
            await trail.append_audit(batch)
        except Exception as exc:  # any store failure: keep the events, try again later
            _raise_if_cancelled(exc)
            kinds = [event.type.value for event in batch]
            log.error(
                "audit_append_failed",
                events=kinds,
                problem=" ".join(str(exc).split())[:200] or type(exc).__name__,
                message="audit events not written yet; they are kept and written again",
            )
            self._on_failure(kinds)
            return False
        written = {id(event) for event in batch}
        with self._lock:  # drops may have taken some of the batch meanwhile: remove by identity
            while self._events and id(self._events[0]) in written:
                self._events.popleft()
            return not self._events

    async def record_forever(self, trail: AuditTrail, *, retry: float) -> None:
        """Write queued events whenever some arrive; after a failure, again after `retry`
        seconds, doubling while it keeps failing (at most MAX_RETRY). Runs until cancelled."""
        loop = asyncio.get_running_loop()
        arrived = asyncio.Event()

        def wake() -> None:
            # A closing loop refuses the call: the events stay queued.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(arrived.set)

        self._wake = wake
        pause = retry
        try:
            while True:
                arrived.clear()
                written = await self.record(trail)
                # A cancel that landed in the write may have been taken for a lost connection
                # and the write retried: stop now rather than wait for events forever.
                _raise_if_cancelled()
                if written:
                    pause = retry
                    await arrived.wait()
                else:
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, max(retry, MAX_RETRY))
        finally:
            self._wake = None


def _raise_if_cancelled(error: Exception | None = None) -> None:
    """Re-raise a cancellation that redis-py turned into a connection error mid-write (and the
    store may have retried past): a loop that went on would keep the service from stopping."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from error
