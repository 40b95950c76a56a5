"""What runs beside the requests for as long as the process lives: the durability watch, the
sweeper, session revocations, the grant cache's invalidations, the notifier and the policy
watch (reloads and their audit events); started and stopped in order."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import structlog
from fastapi import FastAPI

from app.adapters.observability.decision_log import decision_log
from app.adapters.store.retention import Retention
from app.bootstrap.emergency import emergency_of, escalate_forever
from app.bootstrap.parts import Parts, utc_now
from app.services.approvals import ApprovalService

log = structlog.get_logger("countersign")

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

#: How long stopping waits on a cancelled task before cancelling it again.
STOP_RECHECK = 0.5


def lifespan_of(parts: Parts) -> Lifespan:
    """The FastAPI lifespan of the service made of `parts`."""
    settings = parts.settings
    redis_wait = settings.redis.timeout.total_seconds() * 4

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.dev.enabled:
            log.warning(
                "dev_mode_enabled",
                message="DEV MODE: a built-in issuer mints tokens for anyone who asks. "
                "Never expose this instance.",
            )
        # One line and no start when Redis cannot give COUNTERSIGN_DURABILITY; checked again
        # every few seconds (Redis down at start, AOF turned off, replicas gone).
        await parts.durable.start(redis_wait)
        tasks = _start_tasks(parts)
        await parts.verifier.warm()
        if parts.relying_party is not None:
            await parts.relying_party.warm()
        await report_unreachable_store(parts.redis, redis_wait)
        # Everything built so far lives as long as the process: keep it out of the garbage
        # collector's way, so collections triggered by requests scan only request garbage.
        gc.collect()
        gc.freeze()
        log.info(
            "service_started",
            pid=os.getpid(),
            applications=parts.repository.status.applications,
            issuers=list(parts.verifier.issuers),
        )
        try:
            yield
        finally:
            await _stop(parts, tasks)

    return lifespan


def _start_tasks(parts: Parts) -> dict[str, asyncio.Task[None] | None]:
    """The background tasks, by name (None: not running in this configuration)."""
    settings = parts.settings
    checking = asyncio.create_task(parts.durable.watch())
    retention = Retention(
        parts.redis,
        records=settings.retention.request_retention,
        audit_log=settings.retention.audit_retention,
    )
    sweeper = asyncio.create_task(
        sweep_forever(parts.approvals, retention, settings.retention.sweep_interval.total_seconds())
    )
    escalating = asyncio.create_task(
        escalate_forever(emergency_of(parts), settings.retention.sweep_interval.total_seconds())
    )
    following = asyncio.create_task(parts.revocations.run()) if parts.sessions is not None else None
    tracking = asyncio.create_task(parts.grant_cache.run())
    checkpointer = parts.checkpointer
    signing = asyncio.create_task(checkpointer.run()) if checkpointer is not None else None
    if parts.notifier is not None:
        parts.notifier.start()
    if parts.streamer is not None:
        parts.streamer.start()
    # Also without reloads: it writes the policy audit events (this start-up load first).
    watcher = asyncio.create_task(
        parts.repository.watch(
            settings.policy.reload_interval.total_seconds(),
            reload=settings.policy.reload,
            trail=parts.workflow,
        )
    )
    return {
        "watcher": watcher,
        "sweeper": sweeper,
        "escalating": escalating,
        "following": following,
        "checking": checking,
        "tracking": tracking,
        "signing": signing,
    }


async def _stop(parts: Parts, tasks: dict[str, asyncio.Task[None] | None]) -> None:
    """Cancel the tasks (interrupting the revocation follower's blocking read), then close
    every client."""
    for name, task in tasks.items():
        if task is not None:
            interrupt = parts.revocations.interrupt if name == "following" else None
            await _cancel_until_done(task, interrupt)
    await parts.verifier.aclose()
    if parts.relying_party is not None:
        await parts.relying_party.aclose()
    if parts.notifier is not None:
        await parts.notifier.aclose()
    if parts.streamer is not None:
        await parts.streamer.aclose()
    await parts.redis.aclose()
    parts.signals.close()
    decision_log.flush()  # the last decisions, before the process's own exit


async def _cancel_until_done(
    task: asyncio.Task[None], interrupt: Callable[[], Awaitable[None]] | None
) -> None:
    """Cancel `task` and wait for it, cancelling again while it runs on: a Redis read can swallow
    one cancellation (redis-py retries a read that Python 3.11's `asyncio.timeout` turned into
    a timeout), and a stop that waited on it alone would never return."""
    while not task.done():
        task.cancel()
        if interrupt is not None:
            await interrupt()
        await asyncio.wait({task}, timeout=STOP_RECHECK)
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def report_unreachable_store(redis: Any, wait: float) -> None:
    """Say at start, in one line, that Redis does not answer: the service starts anyway and
    `/readyz` stays not ready until it does (checks that need it answer 503 meanwhile)."""
    try:
        async with asyncio.timeout(wait):
            await redis.ping()
    except Exception as exc:  # any failure is the same report
        log.warning(
            "redis_unreachable",
            problem=str(exc)[:200] or type(exc).__name__,
            message="Redis does not answer; /readyz reports not ready until it does",
        )


async def sweep_forever(approvals: ApprovalService, retention: Retention, interval: float) -> None:
    """Expire due requests and grants on every replica (transitions are idempotent), and trim
    indexes and the audit log past retention (bounded steps, also safe on every replica).
    Errors are logged and the loop goes on."""
    while True:
        await asyncio.sleep(interval)
        try:
            requests, grants = await approvals.sweep()
            await retention.trim(utc_now())
            if requests or grants:
                log.info("sweep_expired", requests=requests, grants=grants)
        except Exception as exc:  # Redis down: try again next tick
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # redis-py may turn our cancellation into a ConnectionError
            log.warning("sweep_failed", problem=str(exc)[:200])
