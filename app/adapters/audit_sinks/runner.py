"""Delivering the audit log to one sink: hold the lease, read after the cursor, send, and move
the cursor only once the sink acknowledged. A failing sink is retried from the same entry,
pausing longer each time (never skipping one); it holds up nothing but itself.

Delivery is at least once on the wire: a replica that dies (or loses its lease) after the sink
took a batch but before the cursor moved leaves that batch to be sent again by whoever goes on.
Every record carries its entry id, which only grows, so a receiver that remembers the newest id
it stored drops what is not newer; a file sink does that itself (it reads its own last line).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass
from typing import Protocol

import structlog

from app.adapters.audit_sinks.base import Sink, SinkError
from app.adapters.audit_sinks.cursor import Batch, Position, SinkCursor
from app.adapters.audit_sinks.records import AuditRecord, id_key
from app.adapters.notify.cancellation import cancelled_meanwhile
from app.adapters.notify.loop_errors import backoff, kind_of, problem_of

log = structlog.get_logger("countersign.audit_sinks")


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """Timings and limits; the defaults suit production, tests shrink them."""

    batch: int = 100
    timeout: float = 10.0
    retry_base: float = 1.0
    retry_max: float = 60.0
    #: How long a replica delivers for a sink after its last renewal before another may.
    lease: float = 30.0
    #: Longest wait for a new entry in one read (well under the lease: it is renewed after).
    block: float = 2.0
    #: How often a replica that does not hold a sink's lease looks whether it is free.
    standby_poll: float = 2.0


class SinkObserver(Protocol):
    """Told of entries delivered, failed tries and gaps, per sink (the metrics)."""

    def audit_sink_delivered(self, sink: str, entries: int) -> None: ...

    def audit_sink_failed(self, sink: str) -> None: ...

    def audit_sink_gap(self, sink: str) -> None: ...


class SinkRunner:
    """Delivers for one sink until `stop()`; every replica runs one per sink, one delivers."""

    def __init__(
        self,
        name: str,
        *,
        sink: Sink,
        cursor: SinkCursor,
        token: str,
        options: StreamOptions,
        observer: SinkObserver | None = None,
    ) -> None:
        self.name = name
        self._sink = sink
        self._cursor = cursor
        self._token = token
        self._options = options
        self._observer = observer
        self._lease_ms = int(options.lease * 1000)
        self._stopping = asyncio.Event()
        self.holding = False
        self.failures = 0
        self._kind: str | None = None
        self._gap_after: str | None = None

    async def run(self) -> None:
        """Deliver until `stop()`; then give the lease up and close the sink."""
        try:
            while not self._stopping.is_set():
                await self._rest(await self._turn())
        finally:
            with contextlib.suppress(Exception):
                if self.holding:
                    await self._cursor.release(self._token)
            await self._sink.aclose()

    async def close(self) -> None:
        """Close the sink of a runner that never ran."""
        await self._sink.aclose()

    def stop(self) -> None:
        """Ask `run()` to return after its current step (a read blocks at most `block`)."""
        self._stopping.set()

    async def _turn(self) -> float:
        """One step, its failures counted; the pause before the next."""
        try:
            pause = await self.step()
        except Exception as error:  # the sink or Redis failed: try again from the same entry
            cancelled_meanwhile(error)
            return self._failed(error)
        self._succeeded()
        return pause

    async def step(self) -> float:
        """Hold the lease, send what follows the cursor, move it; the pause before the next."""
        was_holding = self.holding
        self.holding = await self._cursor.hold(self._token, lease_ms=self._lease_ms)
        if not self.holding:
            return self._options.standby_poll
        if not was_holding:
            # Taken (back) over: another replica may have written meanwhile (a file on this
            # host, rotated since), so the sink starts afresh from what is there now.
            await self._sink.aclose()
        position = await self._cursor.position()
        batch = await self._cursor.read(position, limit=self._options.batch)
        if not batch.rows:
            await self._cursor.wait(position, block_ms=int(self._options.block * 1000))
            return 0.0
        self._check_chain(position, batch)
        records = [AuditRecord.of(row) for row in batch.rows]
        held = await self._sink.last_held()
        fresh = [r for r in records if held is None or id_key(r.id) > id_key(held)]
        try:
            async with asyncio.timeout(self._options.timeout):
                await self._sink.send(fresh)
        except TimeoutError:
            raise SinkError("timed out") from None
        last_id, fields = batch.rows[-1]
        to = Position(
            last_id, fields.get("hash", ""), batch.count_after(position, limit=self._options.batch)
        )
        outcome = await self._cursor.advance(self._token, position, to, lease_ms=self._lease_ms)
        if outcome != "moved":
            # Another replica took the sink over meanwhile; it sends from the cursor (the
            # receiver may see this batch twice and drops it by id).
            log.warning("audit_sink_lease_lost", sink=self.name, outcome=outcome, last=last_id)
            return 0.0
        if self._observer is not None:
            self._observer.audit_sink_delivered(self.name, len(fresh))
        return 0.0

    def _check_chain(self, position: Position, batch: Batch) -> None:
        """Report, once, entries gone before the sink had them (trimmed by retention while
        the sink was down, or Redis lost them): the first entry after the cursor does not
        chain on from it. Delivery goes on with what is there."""
        first_id, fields = batch.rows[0]
        if fields.get("prev") == position.hash or self._gap_after == position.id:
            return
        self._gap_after = position.id
        log.error("audit_sink_gap", sink=self.name, delivered=position.id, first_present=first_id)
        if self._observer is not None:
            self._observer.audit_sink_gap(self.name)

    def _failed(self, error: BaseException) -> float:
        """Count a failure, logging it when the sink starts failing or fails differently."""
        kind = kind_of(error)
        if kind != self._kind or self.failures == 0:
            problem = str(error) if isinstance(error, SinkError) else problem_of(error)
            log.warning("audit_sink_failed", sink=self.name, problem=problem[:300])
            self._kind = kind
        self.failures += 1
        if self._observer is not None and isinstance(error, SinkError):
            self._observer.audit_sink_failed(self.name)
        options = self._options
        return backoff(
            self.failures, base=options.retry_base, cap=options.retry_max, rand=random.random
        )

    def _succeeded(self) -> None:
        if self.failures:
            log.info("audit_sink_recovered", sink=self.name, failures=self.failures)
        self.failures, self._kind = 0, None

    async def _rest(self, seconds: float) -> None:
        """Pause, renewing a held lease on the way, so a long backoff keeps the sink here."""
        end = time.monotonic() + seconds
        renew_every = self._options.lease / 3
        while not self._stopping.is_set() and (left := end - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), min(left, renew_every))
            if self.holding and end - time.monotonic() > 0:
                with contextlib.suppress(Exception):
                    self.holding = await self._cursor.hold(self._token, lease_ms=self._lease_ms)
