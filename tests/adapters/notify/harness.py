"""Notifiers over a real Redis for the worker tests: channels pointing at loopback receivers,
fast retry timings, and the shipped policies (Grafana: SRE leads, or cto@example.com).

ALICE asks for Grafana; BOB approves; the CTO is the approver the policy names by e-mail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr
from redis.asyncio import Redis

from app.adapters.notify.base import Sender
from app.adapters.notify.hooks import http_client
from app.adapters.notify.senders import build_senders
from app.adapters.notify.worker import NotificationWorker, NotifyObserver, WorkerOptions
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.core.approvals import AccessRequest
from app.core.context import Identity
from app.core.notify import ChannelKind
from app.notify_config import ChannelSettings
from app.services.notifications import NotificationPlanner
from tests.support.workflow import (
    ALICE,
    GRAFANA_REASON,
    RETENTION,
    World,
    at_desk,
    person,
    shipped_policies,
)

PUBLIC_URL = "https://countersign.example.com"
SECRET = "whsec-worker-test"
FAST = WorkerOptions(
    max_attempts=4,
    retry_base=0.05,
    retry_max=0.2,
    lease=3.0,
    claim_idle=1.0,
    block=0.1,
    poll=0.02,
    expiry_warning=timedelta(0),
    warning_every=0.05,
)


def webhook(url: str, name: str = "hook", **changes: Any) -> ChannelSettings:
    """A signed webhook channel that hears everything."""
    channel = ChannelSettings(
        name=name, kind=ChannelKind.WEBHOOK, url=SecretStr(url), secret=SecretStr(SECRET)
    )
    return channel.model_copy(update=changes)


def slack(url: str, name: str = "slack") -> ChannelSettings:
    """A Slack channel that hears everything."""
    return ChannelSettings(name=name, kind=ChannelKind.SLACK, url=SecretStr(url))


def mail(port: int, name: str = "mail") -> ChannelSettings:
    """E-mail to the policy's e-mail approvers and to the requester, on loopback without TLS."""
    return ChannelSettings(
        name=name,
        kind=ChannelKind.SMTP,
        host="127.0.0.1",
        port=port,
        security="none",
        sender="Countersign <countersign@example.com>",
        notify_approvers=True,
        notify_requester=True,
    )


class Outcomes:
    """Counts what the worker reports, per (channel, outcome)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def notified(self, channel: str, outcome: str) -> None:
        """Observer hook."""
        key = (channel, outcome)
        self.counts[key] = self.counts.get(key, 0) + 1


@asynccontextmanager
async def running(
    url: str,
    channels: list[ChannelSettings],
    *,
    options: WorkerOptions = FAST,
    clock: Callable[[], datetime] | None = None,
    consumer: str | None = None,
    senders: Mapping[str, Sender] | None = None,
    observer: NotifyObserver | None = None,
) -> AsyncIterator[NotificationWorker]:
    """A running notifier (own Redis and HTTP clients) until the block ends."""
    async with AsyncExitStack() as stack:
        client = Redis.from_url(url)
        stack.push_async_callback(client.aclose)
        http: httpx.AsyncClient = await stack.enter_async_context(http_client(2.0))
        store = RedisWorkflowStore(client, retention=RETENTION)
        policies = shipped_policies()
        worker = NotificationWorker(
            client=client,
            planner=NotificationPlanner(
                policies=lambda: policies,
                records=store,
                routes=[c.route() for c in channels],
                public_url=PUBLIC_URL,
            ),
            senders=senders or build_senders(channels, client=http, timeout=2.0),
            requests=store,
            clock=clock or (lambda: datetime.now(UTC)),
            options=options,
            observer=observer,
            consumer=consumer,
        )
        await worker.ensure_group()
        task = asyncio.create_task(worker.run())
        try:
            yield worker
        finally:
            worker.stop()
            await asyncio.wait_for(task, timeout=options.block + 5.0)


async def until(condition: Callable[[], bool], *, within: float = 8.0) -> None:
    """Wait until `condition` holds; fail the test after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for notifications")
        await asyncio.sleep(0.02)


async def until_true(probe: Callable[[], Awaitable[object]], *, within: float = 8.0) -> None:
    """Wait until the awaited `probe` returns something truthy (a Redis count, say)."""
    deadline = time.monotonic() + within
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for a condition")
        await asyncio.sleep(0.02)


async def ask(w: World, who: Identity = ALICE, *, reason: str = GRAFANA_REASON) -> AccessRequest:
    """`who` asks for Grafana from their desk (a personal laptop in France)."""
    outcome = await w.service.request_access(
        person(who),
        application="grafana",
        context=at_desk(who, "grafana"),
        justification=reason,
        duration=timedelta(hours=2),
    )
    assert outcome.request is not None
    return outcome.request


def with_attempts(options: WorkerOptions, attempts: int) -> WorkerOptions:
    """`options` with another try limit."""
    return replace(options, max_attempts=attempts)
