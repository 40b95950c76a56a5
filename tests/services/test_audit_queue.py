"""Audit events waiting for the log: written in order, woken from a reload thread, bounded, and
a writer that stops when told to even if the write swallowed the cancel (as redis-py can).
The trail here is a fake of the port; the Redis-backed trail is tested in
tests/adapters/store/test_audit_events.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
import structlog
from structlog.testing import capture_logs

from app.core.approvals import Event
from app.core.audit_events import LoadedSet, policy_loaded
from app.services import audit_queue
from app.services.audit_queue import PendingAudit

AT = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
DEADLINE = 20.0


def loaded(n: int) -> Event:
    """A start-up load whose version is `n` (to tell events apart)."""
    return policy_loaded(LoadedSet("a" * 64, str(n), 1), replica="web-1/4242", at=AT)


class ListTrail:
    """Keeps what it is given, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.appended = asyncio.Event()

    async def append_audit(self, events: Sequence[Event]) -> None:
        self.events.extend(events)
        self.appended.set()


class SwallowingTrail:
    """A write that takes the cancel for a lost connection, retries and succeeds."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def append_audit(self, events: Sequence[Event]) -> None:
        self.started.set()
        # "The connection was lost": written again on a fresh one, and the cancel is gone.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()


def test_an_event_added_from_a_reload_thread_wakes_the_writer() -> None:
    """Reloads run in a worker thread: what they add is written without waiting for a tick."""
    queue = PendingAudit()
    trail = ListTrail()

    async def go() -> None:
        writer = asyncio.create_task(queue.record_forever(trail, retry=3600))
        try:
            async with asyncio.timeout(DEADLINE):
                await asyncio.to_thread(queue.add, loaded(1))
                await trail.appended.wait()
        finally:
            writer.cancel()
            with pytest.raises(asyncio.CancelledError):
                await writer

    asyncio.run(go())
    assert [e.data["version"] for e in trail.events] == ["1"]
    assert len(queue) == 0


def test_a_cancel_swallowed_by_the_write_still_stops_the_writer() -> None:
    """Stopping the service while an entry is being written ends the writer, although the
    write itself carried on (the service would otherwise never finish stopping)."""
    queue = PendingAudit()
    trail = SwallowingTrail()
    queue.add(loaded(1))

    async def go() -> None:
        writer = asyncio.create_task(queue.record_forever(trail, retry=3600))
        await trail.started.wait()
        writer.cancel()
        done, _ = await asyncio.wait({writer}, timeout=DEADLINE)
        assert writer in done, "the writer did not stop"
        assert writer.cancelled()

    asyncio.run(go())


def test_beyond_the_limit_the_oldest_events_are_dropped_and_logged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A store away for long keeps the newest events; each one dropped is an error line."""
    queue = PendingAudit(limit=2)
    trail = ListTrail()
    with capture_logs() as logs:
        # A fresh logger: the module's own may be bound to an earlier test's configuration.
        monkeypatch.setattr(audit_queue, "log", structlog.get_logger("countersign.audit"))
        for n in range(3):
            queue.add(loaded(n))
    assert asyncio.run(queue.record(trail))
    assert [e.data["version"] for e in trail.events] == ["1", "2"]
    assert [(line["event"], line["log_level"]) for line in logs] == [
        ("audit_event_dropped", "error")
    ]


def test_events_added_during_a_write_wait_for_the_next_one() -> None:
    """What arrives while a batch is being written is neither lost nor written twice."""
    queue = PendingAudit()
    written: list[list[str]] = []

    class AddingTrail:
        async def append_audit(self, events: Sequence[Event]) -> None:
            written.append([str(e.data["version"]) for e in events])
            if len(written) == 1:
                await asyncio.to_thread(queue.add, loaded(2))

    queue.add(loaded(1))

    async def go() -> tuple[bool, bool]:
        return await queue.record(AddingTrail()), await queue.record(AddingTrail())

    assert asyncio.run(go()) == (False, True)
    assert written == [["1"], ["2"]]
