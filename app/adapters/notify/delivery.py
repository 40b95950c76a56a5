"""Delivering outbox entries: per (channel, request) queues drained in order, each send tried
once per turn, retried with backoff, and dead-lettered after the last try.

Per (request, channel), messages go out in outbox order: a later one waits while an earlier
one waits for its retry (the queues live in Redis, see `queues`). A failing channel is retried
alone; the others have their message once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import structlog

from app.adapters.notify.base import DeliveryError, Sender
from app.adapters.notify.cancellation import cancelled_meanwhile
from app.adapters.notify.entries import decode
from app.adapters.notify.loop_errors import backoff
from app.adapters.notify.options import WorkerOptions
from app.adapters.notify.queues import DeliveryQueues
from app.adapters.store.keys import OUTBOX_KEY
from app.services.notifications import NotificationPlanner, Plan

log = structlog.get_logger("countersign.notify")


class DeliveryObserver(Protocol):
    """Told of each delivery outcome per channel: sent, failed (will retry), dead_lettered."""

    def notified(self, channel: str, outcome: str) -> None: ...


class Deliveries:
    """The sending side of one notifier: queues entries for their channels and drains each
    queue in a task of its own, at most `concurrency` sends at a time."""

    def __init__(
        self,
        *,
        client: Any,
        queues: DeliveryQueues,
        planner: NotificationPlanner,
        senders: Mapping[str, Sender],
        clock: Callable[[], datetime],
        options: WorkerOptions,
        observer: DeliveryObserver | None = None,
    ) -> None:
        self._client = client
        self._queues = queues
        self._planner = planner
        self._senders = senders
        self._clock = clock
        self._options = options
        self._observer = observer
        self._limit = asyncio.Semaphore(options.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: set[tuple[str, str]] = set()
        self._again: set[tuple[str, str]] = set()

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

    async def retry_due(self) -> float:
        """Start the queues whose retry is due; the pause before looking again (none while
        there may be more due than one batch)."""
        claimed = await self._queues.claim_due(
            now=self._now(),
            lease_end=self._now() + self._options.lease,
            limit=self._options.batch,
        )
        for channel, order_key in claimed:
            self._start(channel, order_key, None, None)
        return 0.0 if len(claimed) == self._options.batch else self._options.poll

    async def stop(self, grace: float = 2.0) -> None:
        """Let deliveries under way finish briefly, then cancel the rest (their leases run out
        and another replica, or the next start, sends them)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace)

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
            cancelled_meanwhile(error)
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
        """Count a failed try: schedule the retry with backoff, or dead-letter after the last."""
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
        """Finish the head (writing its dead letter, if any); the next head if still ours."""
        ok, nxt = await self._queues.finish(
            channel, order_key, entry_id, lease_end=self._now() + self._options.lease, dead=dead
        )
        return nxt if ok else None

    async def _plan_of(self, entry_id: str) -> tuple[Plan | None, str | None]:
        """The plan of an entry read back from the outbox, or why it cannot be sent."""
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
        """The dead letter's record, as `dead_letters` reads it back."""
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

    def _now(self) -> float:
        return self._clock().timestamp()

    def _now_text(self) -> str:
        return self._clock().isoformat()

    def _observe(self, channel: str, outcome: str) -> None:
        if self._observer is not None:
            self._observer.notified(channel, outcome)
