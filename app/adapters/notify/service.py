"""The notifier as the service runs it: the worker plus the Redis and HTTP clients it owns,
built from Settings. None when no channel is configured."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from app.adapters.notify.hooks import http_client
from app.adapters.notify.options import WorkerOptions
from app.adapters.notify.senders import build_senders
from app.adapters.notify.worker import NotificationWorker, NotifyObserver
from app.adapters.slack.sender import interactive_senders
from app.adapters.step_up import StepUpLinks
from app.adapters.store.connection import connect_for
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.config.settings import NotifySettings, RedisSettings, RetentionSettings
from app.core.policy.policy_set import PolicySet
from app.services.notifications import NotificationPlanner


class Notifier:
    """Runs the worker in a task of its own; stops it and closes its clients at the end."""

    def __init__(
        self,
        worker: NotificationWorker,
        *,
        redis: Any,
        http: httpx.AsyncClient,
        options: WorkerOptions,
    ) -> None:
        self.worker = worker
        self._redis = redis
        self._http = http
        self._options = options
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start delivering (in the running event loop)."""
        self._task = asyncio.create_task(self.worker.run(), name="notifier")

    async def aclose(self) -> None:
        """Stop the worker, letting deliveries under way finish briefly, then close clients.
        Cancelling is the last resort, for a worker stuck past its read timeout."""
        if self._task is not None:
            self.worker.stop()
            done, _ = await asyncio.wait({self._task}, timeout=self._options.block + 3.0)
            if not done:
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=1.0)
            self._task = None
        await self._http.aclose()
        await self._redis.aclose()


def options_from(settings: NotifySettings, *, sweep_interval: timedelta) -> WorkerOptions:
    """Worker timings from the NOTIFY_* settings; expiry warnings are looked for as often as
    the sweeper runs."""
    timeout = settings.timeout.total_seconds()
    return WorkerOptions(
        max_attempts=settings.max_attempts,
        retry_base=settings.retry_base.total_seconds(),
        retry_max=settings.retry_max.total_seconds(),
        lease=max(30.0, 3 * timeout),
        claim_idle=max(60.0, 3 * timeout),
        expiry_warning=settings.expiry_warning,
        warning_every=sweep_interval.total_seconds(),
    )


def build_notifier(
    settings: NotifySettings,
    *,
    redis: RedisSettings,
    retention: RetentionSettings,
    public_url: str,
    policies: Callable[[], PolicySet],
    clock: Callable[[], datetime],
    observer: NotifyObserver | None = None,
    login_url: str | None = None,
) -> Notifier | None:
    """The notifier of one process, or None without channels."""
    if not settings.channels or redis.url is None:
        return None
    options = options_from(settings, sweep_interval=retention.sweep_interval)
    # A client of its own: XREADGROUP blocks longer than the request path's socket timeout.
    client = connect_for(redis, timeout=max(redis.timeout.total_seconds(), options.block + 5.0))
    http = http_client(settings.timeout.total_seconds())
    store = RedisWorkflowStore(client, retention=retention.request_retention)
    planner = NotificationPlanner(
        policies=policies,
        records=store,
        routes=[channel.route() for channel in settings.channels],
        public_url=public_url,
    )
    worker = NotificationWorker(
        client=client,
        planner=planner,
        senders=build_senders(
            settings.channels,
            client=http,
            timeout=settings.timeout.total_seconds(),
            interactive=interactive_senders(
                http,
                records=store,
                policies=policies,
                links=StepUpLinks(
                    login_url=login_url or f"{public_url.rstrip('/')}/login", public_url=public_url
                ),
            ),
        ),
        requests=store,
        clock=clock,
        options=options,
        observer=observer,
    )
    return Notifier(worker, redis=client, http=http, options=options)
