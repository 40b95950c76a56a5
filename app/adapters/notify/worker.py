"""The notifier: reads the outbox through the `notifiers` consumer group and hands each entry
to its deliveries (see `delivery`: retries, exponential backoff with jitter, and a dead-letter
stream after the last try). It runs beside the service in every replica.

- Each outbox entry goes to one replica (consumer group); an entry read by a replica that died
  before queueing it is taken over after `claim_idle` (XAUTOCLAIM).
- Sending happens in `delivery`, never on the request path: a dead or slow channel delays
  nothing but its own messages.
- A lost stream or group (Redis restarted empty, `DEL`, `XGROUP DESTROY`) is recreated where
  the group had got to, and a gap is reported (see `recovery`); errors pause each loop longer
  the longer they last, with one log line per change (see `loop_errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from app.adapters.notify.base import Sender
from app.adapters.notify.cancellation import cancelled_meanwhile
from app.adapters.notify.delivery import Deliveries, DeliveryObserver
from app.adapters.notify.entries import text
from app.adapters.notify.keys import GROUP
from app.adapters.notify.loop_errors import LoopErrors
from app.adapters.notify.options import WorkerOptions
from app.adapters.notify.queues import DeliveryQueues
from app.adapters.notify.recovery import OutboxGroup, OutboxObserver, lost_group
from app.adapters.store.keys import OUTBOX_KEY, PENDING_INDEX
from app.core.approvals import AccessRequest
from app.core.notify import Topic, expiry_warning, needs_expiry_warning
from app.services.notifications import NotificationPlanner

log = structlog.get_logger("countersign.notify")
#: A consumer idle this long with nothing pending belongs to a process that is gone.
PRUNE_AFTER_MS = 24 * 3600 * 1000


class NotifyObserver(OutboxObserver, DeliveryObserver, Protocol):
    """Told of each delivery outcome per channel: sent, failed (will retry), dead_lettered;
    and of the outbox group's state, recreations and gaps."""


class RequestLister(Protocol):
    """Pending requests by id (the workflow store)."""

    async def load_requests(self, ids: list[str]) -> list[AccessRequest]: ...


def consumer_name() -> str:
    """This process's name in the consumer group: host, pid and a random part."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class NotificationWorker:
    """One per process: `run()` until `stop()`."""

    def __init__(
        self,
        *,
        client: Any,
        planner: NotificationPlanner,
        senders: Mapping[str, Sender],
        requests: RequestLister,
        clock: Callable[[], datetime],
        options: WorkerOptions | None = None,
        observer: NotifyObserver | None = None,
        consumer: str | None = None,
    ) -> None:
        self._client = client
        self._planner = planner
        self._requests = requests
        self._clock = clock
        self._options = options or WorkerOptions()
        self.consumer = consumer or consumer_name()
        self._queues = DeliveryQueues(client)
        self._deliveries = Deliveries(
            client=client,
            queues=self._queues,
            planner=planner,
            senders=senders,
            clock=clock,
            options=self._options,
            observer=observer,
        )
        self._stopping = asyncio.Event()
        self.outbox = OutboxGroup(
            client, fresh_window=self._options.fresh_window, clock=clock, observer=observer
        )
        self._errors: dict[str, LoopErrors] = {}

    # -- running ---------------------------------------------------------------------------
    async def ensure_group(self) -> None:
        """Create the consumer group unless it exists, where the group had got to or, on a
        first start, a little way back (see `recovery.plan_rejoin`)."""
        await self.outbox.join()

    def status(self) -> dict[str, Any]:
        """The notifier as /readyz shows it: the outbox group, and the loops now failing."""
        failing = {name: e.status() for name, e in self._errors.items() if e.failures}
        return {**self.outbox.status(), "failing": failing}

    async def run(self) -> None:
        """Deliver until `stop()`; Redis or channel trouble is logged and retried."""
        joining = self._loop_errors("join")
        while not self._stopping.is_set():
            try:
                await self.ensure_group()
                joining.succeeded()
                break
            except Exception as error:  # Redis down at start: keep trying, pausing longer
                cancelled_meanwhile(error)
                await self._pause(joining.failed(error))
        loops = [
            self._forever("read", self._read),
            self._forever("retry", self._deliveries.retry_due),
            self._forever("claim", self._claim),
        ]
        if self._options.expiry_warning > timedelta(0) and self._planner.wants(
            Topic.REQUEST_EXPIRING
        ):
            loops.append(self._forever("warn", self._warn))
        try:
            async with asyncio.TaskGroup() as group:
                for loop in loops:
                    group.create_task(loop)
        finally:
            await self._deliveries.stop()
        await self._leave_group()

    async def _leave_group(self) -> None:
        """Remove this consumer from the group on a clean stop, unless it still holds entries
        (deleting it would drop them; another replica claims them instead)."""
        try:
            held = await self._client.xpending_range(
                OUTBOX_KEY, GROUP, min="-", max="+", count=1, consumername=self.consumer
            )
            if not held:
                await self._client.xgroup_delconsumer(OUTBOX_KEY, GROUP, self.consumer)
        except Exception as error:  # Redis gone at shutdown: the next prune removes it
            cancelled_meanwhile(error)

    def stop(self) -> None:
        """Ask `run()` to return: each loop ends after its current step (a read blocks for at
        most `block` seconds). Stopping this way, rather than cancelling, never leaves a Redis
        read half done."""
        self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _loop_errors(self, name: str) -> LoopErrors:
        errors = self._errors.get(name)
        if errors is None:
            options = self._options
            errors = LoopErrors(
                name, base=options.error_pause, cap=options.error_pause_max, rand=random.random
            )
            self._errors[name] = errors
        return errors

    async def _forever(self, name: str, step: Callable[[], Awaitable[float]]) -> None:
        errors = self._loop_errors(name)
        while not self._stopping.is_set():
            try:
                pause = await step()
                errors.succeeded()
            except Exception as error:  # Redis down, group gone, or a bug: back off, go on
                cancelled_meanwhile(error)
                if self._stopping.is_set():
                    return
                pause = await self._after(errors, error)
            if pause > 0:
                await self._pause(pause)

    async def _after(self, errors: LoopErrors, error: Exception) -> float:
        """The pause after a failed step. A lost stream or group is recreated first and the
        step runs again at once, unless it was lost again right after the last recreation
        (then the loop backs off like for any other error)."""
        if not lost_group(error):
            return errors.failed(error)
        again = errors.failing_with(error)
        pause = errors.failed(error)
        self.outbox.lost()
        try:
            await self.outbox.join()
        except Exception as failure:  # Redis gone meanwhile: the next failure retries
            cancelled_meanwhile(failure)
            return errors.failed(failure)
        return pause if again else 0.0

    # -- the outbox ------------------------------------------------------------------------
    async def _read(self) -> float:
        reply = await self._client.xreadgroup(
            GROUP,
            self.consumer,
            {OUTBOX_KEY: ">"},
            count=self._options.batch,
            block=int(self._options.block * 1000),
        )
        for _stream, entries in reply or []:
            if entries:
                # Recorded before queueing: a lost group is recreated after what was read.
                await self.outbox.advance(text(entries[-1][0]))
            for entry_id, fields in entries:
                await self._deliveries.accept(text(entry_id), fields)
        return 0.0

    async def _claim(self) -> float:
        reply = await self._client.xautoclaim(
            OUTBOX_KEY,
            GROUP,
            self.consumer,
            min_idle_time=int(self._options.claim_idle * 1000),
            start_id="0-0",
            count=self._options.batch,
        )
        for entry_id, fields in reply[1]:
            if fields is None:  # trimmed away while pending
                await self._queues.acknowledge(text(entry_id))
                continue
            log.info("notification_taken_over", entry=text(entry_id))
            await self._deliveries.accept(text(entry_id), fields)
        await self._prune_consumers()
        return self._options.claim_idle / 2

    async def _prune_consumers(self) -> None:
        """Forget consumers of processes gone for a day that hold nothing (each start of a
        process joins the group under a new name)."""
        for consumer in await self._client.xinfo_consumers(OUTBOX_KEY, GROUP):
            name = text(consumer["name"])
            idle_ms = int(consumer.get("inactive", consumer["idle"]))
            if int(consumer["pending"]) == 0 and idle_ms > PRUNE_AFTER_MS and name != self.consumer:
                await self._client.xgroup_delconsumer(OUTBOX_KEY, GROUP, name)

    # -- expiry warnings -------------------------------------------------------------------
    async def _warn(self) -> float:
        await self.warn_expiring()
        return self._options.warning_every

    async def warn_expiring(self) -> int:
        """Put the expiry warning of each pending request now due in the outbox, once however
        many replicas look. Returns how many this call added."""
        now = self._clock()
        window = self._options.expiry_warning
        ids = await self._client.zrangebyscore(
            PENDING_INDEX, now.timestamp(), (now + window).timestamp(), start=0, num=500
        )
        added = 0
        for request in await self._requests.load_requests([text(i) for i in ids]):
            if needs_expiry_warning(request, now=now, warning=window):
                trigger = expiry_warning(request, now=now)
                ttl = request.expires_at - now + window
                added += await self._queues.warn_once(
                    request.id, trigger.to_dict(), ttl_ms=int(ttl.total_seconds() * 1000)
                )
        return added
