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
from redis.exceptions import RedisError

from app.adapters.notify.base import Sender
from app.adapters.notify.hooks import http_client
from app.adapters.notify.keys import GROUP, RETRY_KEY
from app.adapters.notify.options import WorkerOptions
from app.adapters.notify.senders import build_senders
from app.adapters.notify.worker import NotificationWorker, NotifyObserver
from app.adapters.store.connection import connect
from app.adapters.store.keys import OUTBOX_KEY
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.config.channels import ChannelSettings, SlackChannel, SmtpChannel, WebhookChannel
from app.core.approvals import AccessRequest
from app.core.context import Identity
from app.core.notify import ChannelKind
from app.services.notifications import NotificationPlanner
from tests.support.procs import ManagedProcess
from tests.support.redis_server import RedisServer, ping
from tests.support.workflow import (
    ALICE,
    GRAFANA_REASON,
    RETENTION,
    World,
    at_desk,
    person,
    shipped_policies,
    world,
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
    error_pause=0.02,
    error_pause_max=0.2,
)


def webhook(url: str, name: str = "hook", **changes: Any) -> WebhookChannel:
    """A signed webhook channel that hears everything."""
    channel = WebhookChannel(
        name=name, kind=ChannelKind.WEBHOOK, url=SecretStr(url), secret=SecretStr(SECRET)
    )
    return channel.model_copy(update=changes)


def slack(url: str, name: str = "slack") -> SlackChannel:
    """A Slack channel that hears everything."""
    return SlackChannel(name=name, kind=ChannelKind.SLACK, url=SecretStr(url))


def mail(port: int, name: str = "mail") -> SmtpChannel:
    """E-mail to the policy's e-mail approvers and to the requester, on loopback without TLS."""
    return SmtpChannel(
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

    def outbox_state(self, state: str) -> None:
        """Observer hook (the outbox group's state is not counted here)."""

    def outbox_rejoined(self) -> None:
        """Observer hook."""

    def outbox_gap(self) -> None:
        """Observer hook."""


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
        # Built as the service builds it (build_notifier): after a Redis restart, pooled
        # connections to the old server are replaced rather than failing one by one.
        client = connect(url, timeout=options.block + 5.0)
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


async def group_exists(client: Redis) -> bool:
    """Whether the outbox stream exists and has the notifiers' group."""
    try:
        groups = await client.xinfo_groups(OUTBOX_KEY)
    except RedisError:  # no stream (or the server is restarting)
        return False
    return any(g["name"] == GROUP.encode() for g in groups)


async def settled(client: Redis) -> bool:
    """The group has handed out every outbox entry, holds none unqueued, and no delivery
    waits to be sent or retried: nothing more can arrive without a new entry."""
    try:
        info = await client.xinfo_stream(OUTBOX_KEY)
        groups = await client.xinfo_groups(OUTBOX_KEY)
    except RedisError:
        return False
    group = next((g for g in groups if g["name"] == GROUP.encode()), None)
    return (
        group is not None
        and group["last-delivered-id"] == info["last-generated-id"]
        and int(group["pending"]) == 0
        and await client.zcard(RETRY_KEY) == 0
    )


async def answers(client: Redis) -> bool:
    """Whether the server answers PING (through a client that reconnects)."""
    try:
        return bool(await client.ping())
    except RedisError:
        return False


def restart(server: RedisServer) -> None:
    """Start a stopped `server` again on the same port with the same options and data."""
    process = ManagedProcess(
        f"redis:{server.port}", server.process.argv, log_path=server.directory / "restart.log"
    )
    process.wait_until(lambda: ping(server.port), timeout=15.0, what="answering PING")
    server.process = process


def restart_empty(server: RedisServer) -> None:
    """Stop `server` and start it again on the same port with the same options but an empty data
    directory (none of its AOF or RDB files): Redis lost everything, as a node replaced or a
    server without persistence restarted. The new process replaces the old in `server`, so its
    factory stops it."""
    directory = server.directory / f"restarted-{time.monotonic_ns()}"
    directory.mkdir()
    argv = list(server.process.argv)
    argv[argv.index("--dir") + 1] = str(directory)
    server.stop()
    process = ManagedProcess(f"redis:{server.port}", argv, log_path=directory / "server.log")
    process.wait_until(lambda: ping(server.port), timeout=15.0, what="answering PING")
    server.process = process


def scenario(url: str, body: Callable[[World], Awaitable[None]]) -> None:
    """Run `body` against an emptied store."""

    async def go() -> None:
        async with world(url) as w:
            await body(w)

    asyncio.run(go())
