"""The notifier: reads the outbox through the `notifiers` consumer group and delivers each
entry to every channel that wants it, with retries, exponential backoff with jitter, and a
dead-letter stream after the last try. It runs beside the service in every replica.

- Each outbox entry goes to one replica (consumer group); an entry read by a replica that died
  before queueing it is taken over after `claim_idle` (XAUTOCLAIM).
- Deliveries are per (entry, channel): a failing channel is retried alone; the others have
  their message once. Per (request, channel), messages go out in outbox order: a later one
  waits while an earlier one waits for its retry (see `queues`).
- Sending happens here, never on the request path: a dead or slow channel delays nothing but
  its own messages.
- A lost stream or group (Redis restarted empty, `DEL`, `XGROUP DESTROY`) is recreated where
  the group had got to, and a gap is reported (see `recovery`); errors pause each loop longer
  the longer they last, with one log line per change (see `loop_errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from app.adapters.notify.base import DeliveryError, Sender
from app.adapters.notify.keys import GROUP
from app.adapters.notify.loop_errors import LoopErrors, backoff
from app.adapters.notify.queues import DeliveryQueues
from app.adapters.notify.recovery import OutboxGroup, OutboxObserver, lost_group
from app.adapters.store.keys import OUTBOX_KEY, PENDING_INDEX
from app.core.approvals import AccessRequest, Event, RecordError
from app.core.notify import Topic, Trigger, expiry_warning, needs_expiry_warning
from app.services.notifications import NotificationPlanner, Plan

log = structlog.get_logger("countersign.notify")
#: A consumer idle this long with nothing pending belongs to a process that is gone.
PRUNE_AFTER_MS = 24 * 3600 * 1000


class NotifyObserver(OutboxObserver, Protocol):
    """Told of each delivery outcome per channel: sent, failed (will retry), dead_lettered;
    and of the outbox group's state, recreations and gaps."""

    def notified(self, channel: str, outcome: str) -> None: ...


class RequestLister(Protocol):
    """Pending requests by id (the workflow store)."""

    async def load_requests(self, ids: list[str]) -> list[AccessRequest]: ...


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Timings and limits; the defaults suit production, tests shrink them."""

    max_attempts: int = 8
    retry_base: float = 5.0
    retry_max: float = 900.0
    #: How long a delivery being sent stays its sender's before another replica may take it.
    lease: float = 60.0
    #: Outbox entries read but not queued for this long (their reader died) are taken over.
    claim_idle: float = 60.0
    block: float = 2.0
    poll: float = 0.5
    expiry_warning: timedelta = timedelta(minutes=15)
    warning_every: float = 5.0
    batch: int = 50
    concurrency: int = 16
    #: A loop that fails pauses this long after its first failure, doubling up to the cap.
    error_pause: float = 0.5
    error_pause_max: float = 30.0
    #: A group created with no position known anywhere starts this far back in the outbox.
    fresh_window: timedelta = timedelta(hours=1)


def consumer_name() -> str:
    """This process's name in the consumer group: host, pid and a random part."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def decode(fields: Mapping[Any, Any]) -> Trigger | None:
    """The trigger an outbox entry carries (None: it notifies nobody). Raises ValueError on an
    entry that cannot be read."""
    values = {_text(k): _text(v) for k, v in fields.items()}
    if "event" in values:
        return Trigger.from_event(Event.from_dict(json.loads(values["event"])))
    if "notice" in values:
        return Trigger.from_dict(json.loads(values["notice"]))
    raise RecordError("neither an event nor a notice")


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _cancelled_meanwhile(error: Exception) -> None:
    """Re-raise cancellation that surfaced as another error: redis-py can turn a cancel that
    lands mid-read into a ConnectionError, and a loop that went on would never stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from error


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
        self._senders = senders
        self._requests = requests
        self._clock = clock
        self._options = options or WorkerOptions()
        self._observer = observer
        self.consumer = consumer or consumer_name()
        self._queues = DeliveryQueues(client)
        self._limit = asyncio.Semaphore(self._options.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: set[tuple[str, str]] = set()
        self._again: set[tuple[str, str]] = set()
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
                _cancelled_meanwhile(error)
                await self._pause(joining.failed(error))
        loops = [
            self._forever("read", self._read),
            self._forever("retry", self._retry),
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
            await self._stop_sending()
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
            _cancelled_meanwhile(error)

    def stop(self) -> None:
        """Ask `run()` to return: each loop ends after its current step (a read blocks for at
        most `block` seconds). Stopping this way, rather than cancelling, never leaves a Redis
        read half done."""
        self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _stop_sending(self, grace: float = 2.0) -> None:
        """Let deliveries under way finish briefly, then cancel the rest (their leases run out
        and another replica, or the next start, sends them)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace)

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
                _cancelled_meanwhile(error)
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
            _cancelled_meanwhile(failure)
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
                await self.outbox.advance(_text(entries[-1][0]))
            for entry_id, fields in entries:
                await self.accept(_text(entry_id), fields)
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
                await self._queues.acknowledge(_text(entry_id))
                continue
            log.info("notification_taken_over", entry=_text(entry_id))
            await self.accept(_text(entry_id), fields)
        await self._prune_consumers()
        return self._options.claim_idle / 2

    async def _prune_consumers(self) -> None:
        """Forget consumers of processes gone for a day that hold nothing (each start of a
        process joins the group under a new name)."""
        for consumer in await self._client.xinfo_consumers(OUTBOX_KEY, GROUP):
            name = _text(consumer["name"])
            idle_ms = int(consumer.get("inactive", consumer["idle"]))
            if int(consumer["pending"]) == 0 and idle_ms > PRUNE_AFTER_MS and name != self.consumer:
                await self._client.xgroup_delconsumer(OUTBOX_KEY, GROUP, name)

    async def accept(self, entry_id: str, fields: Mapping[Any, Any]) -> None:
        """Queue one outbox entry for its channels and start sending where it is first."""
        try:
            trigger = decode(fields)
        except (ValueError, KeyError) as error:
            log.error("notification_unreadable", entry=entry_id, problem=str(error)[:200])
            await self._queues.bury(
                entry_id, {"entry": entry_id, "problem": str(error)[:500], "at": self._now_text()}
            )
            return
        if trigger is None:
            await self._queues.acknowledge(entry_id)
            return
        plan = await self._planner.plan(trigger)
        if not plan.deliveries:
            await self._queues.acknowledge(entry_id)
            return
        channels = [d.channel for d in plan.deliveries]
        heads = await self._queues.enqueue(
            entry_id, channels, plan.order_key, lease_end=self._now() + self._options.lease
        )
        for channel, head in zip(channels, heads, strict=True):
            if head:
                self._start(channel, plan.order_key, entry_id, plan)

    # -- retries ---------------------------------------------------------------------------
    async def _retry(self) -> float:
        claimed = await self._queues.claim_due(
            now=self._now(),
            lease_end=self._now() + self._options.lease,
            limit=self._options.batch,
        )
        for channel, order_key in claimed:
            self._start(channel, order_key, None, None)
        return 0.0 if len(claimed) == self._options.batch else self._options.poll

    # -- sending ---------------------------------------------------------------------------
    def _start(self, channel: str, order_key: str, entry_id: str | None, plan: Plan | None) -> None:
        queue = (channel, order_key)
        if queue in self._busy:
            # Already being drained here: ask that task to look at the queue again when done.
            self._again.add(queue)
            return
        self._busy.add(queue)
        task = asyncio.create_task(self._drain(channel, order_key, entry_id, plan))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(
        self, channel: str, order_key: str, entry_id: str | None, plan: Plan | None
    ) -> None:
        """Send the queue's head, then each next one, until it is empty or a send fails."""
        queue = (channel, order_key)
        try:
            while True:
                if entry_id is None:
                    self._again.discard(queue)
                    entry_id = await self._queues.head(channel, order_key)
                    if entry_id is None:
                        await self._queues.drop_if_empty(channel, order_key)
                        return
                entry_id = await self._deliver(channel, order_key, entry_id, plan)
                plan = None
                if entry_id is None and queue not in self._again:
                    return
        except Exception as error:  # Redis trouble: the lease runs out and the head is retried
            _cancelled_meanwhile(error)
            log.warning("notifier_error", loop="send", channel=channel, problem=str(error)[:200])
        finally:
            self._busy.discard(queue)

    async def _deliver(
        self, channel: str, order_key: str, entry_id: str, plan: Plan | None
    ) -> str | None:
        """Try the head once; returns the next head to send now, or None to stop."""
        problem: str | None = None
        if plan is None:
            plan, problem = await self._plan_of(entry_id)
        delivery = plan.delivery_for(channel) if plan else None
        if plan is None or delivery is None:
            # Gone from the outbox, unreadable, or the channel no longer wants it.
            dead = None
            if problem is not None:
                log.error(
                    "notification_dead_lettered", channel=channel, entry=entry_id, problem=problem
                )
                dead = self._dead(entry_id, channel, plan, problem, 0)
            following = await self._next(channel, order_key, entry_id, dead)
            if dead is not None:  # counted once the dead letter is written
                self._observe(channel, "dead_lettered")
            return following
        sender = self._senders.get(channel)
        try:
            if sender is None:
                raise DeliveryError("channel no longer configured")
            async with self._limit:
                await sender.send(plan.notice, delivery, delivery_id=entry_id)
        except DeliveryError as error:
            return await self._failed(channel, order_key, entry_id, plan, str(error))
        self._observe(channel, "sent")
        log.info(
            "notification_sent",
            channel=channel,
            topic=plan.notice.topic.value,
            request_id=plan.notice.request_id,
            entry=entry_id,
        )
        return await self._next(channel, order_key, entry_id, None)

    async def _failed(
        self, channel: str, order_key: str, entry_id: str, plan: Plan, problem: str
    ) -> str | None:
        options = self._options
        # Whatever else asked for this queue, its head now waits for the retry.
        self._again.discard((channel, order_key))
        tries = await self._queues.failed(channel, order_key, entry_id)
        if tries < 0:
            return None
        if tries >= options.max_attempts:
            log.error(
                "notification_dead_lettered",
                channel=channel,
                entry=entry_id,
                request_id=plan.notice.request_id,
                attempts=tries,
                problem=problem,
            )
            dead = self._dead(entry_id, channel, plan, problem, tries)
            following = await self._next(channel, order_key, entry_id, dead)
            self._observe(channel, "dead_lettered")  # counted once the dead letter is written
            return following
        wait = backoff(tries, base=options.retry_base, cap=options.retry_max, rand=random.random)
        await self._queues.schedule(channel, order_key, due=self._now() + wait)
        self._observe(channel, "failed")
        log.warning(
            "notification_failed",
            channel=channel,
            entry=entry_id,
            request_id=plan.notice.request_id,
            attempt=tries,
            retry_in=round(wait, 3),
            problem=problem,
        )
        return None

    async def _next(
        self, channel: str, order_key: str, entry_id: str, dead: dict[str, Any] | None
    ) -> str | None:
        ok, nxt = await self._queues.finish(
            channel, order_key, entry_id, lease_end=self._now() + self._options.lease, dead=dead
        )
        return nxt if ok else None

    async def _plan_of(self, entry_id: str) -> tuple[Plan | None, str | None]:
        rows = await self._client.xrange(OUTBOX_KEY, entry_id, entry_id)
        if not rows:
            return None, "the outbox entry was trimmed before it could be sent"
        try:
            trigger = decode(rows[0][1])
        except (ValueError, KeyError) as error:
            return None, str(error)[:500]
        if trigger is None:
            return None, None
        return await self._planner.plan(trigger), None

    def _dead(
        self, entry_id: str, channel: str, plan: Plan | None, problem: str, attempts: int
    ) -> dict[str, Any]:
        notice = plan.notice if plan else None
        return {
            "entry": entry_id,
            "channel": channel,
            "topic": notice.topic.value if notice else None,
            "request_id": notice.request_id if notice else None,
            "application": notice.application if notice else None,
            "attempts": attempts,
            "problem": problem,
            "at": self._now_text(),
        }

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
        for request in await self._requests.load_requests([_text(i) for i in ids]):
            if needs_expiry_warning(request, now=now, warning=window):
                trigger = expiry_warning(request, now=now)
                ttl = request.expires_at - now + window
                added += await self._queues.warn_once(
                    request.id, trigger.to_dict(), ttl_ms=int(ttl.total_seconds() * 1000)
                )
        return added

    # -- helpers ---------------------------------------------------------------------------
    def _now(self) -> float:
        return self._clock().timestamp()

    def _now_text(self) -> str:
        return self._clock().isoformat()

    def _observe(self, channel: str, outcome: str) -> None:
        if self._observer is not None:
            self._observer.notified(channel, outcome)
