"""Stopping the service's background tasks ends even when one swallows its cancellation."""

from __future__ import annotations

import asyncio
import contextlib

from app.bootstrap import lifespan


def test_a_task_that_swallows_one_cancellation_is_cancelled_again() -> None:
    """A read that turned the first cancel into a retry (as redis-py's can) still stops."""
    seen: list[str] = []

    async def swallowing() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("swallowed")
        await asyncio.Event().wait()  # waits forever unless cancelled again

    async def scenario() -> None:
        task = asyncio.create_task(swallowing())
        await asyncio.sleep(0)  # let it reach its first wait
        async with asyncio.timeout(30):
            await lifespan._cancel_until_done(task, None)
        assert task.cancelled()

    asyncio.run(scenario())
    assert seen == ["swallowed"]


def test_the_interrupt_runs_on_every_attempt() -> None:
    """The follower's interrupt (dropping its connection) is repeated with each cancel."""
    interrupts: list[int] = []

    async def stubborn() -> None:
        for _ in range(2):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
        await asyncio.Event().wait()

    async def interrupt() -> None:
        interrupts.append(1)

    async def scenario() -> None:
        task = asyncio.create_task(stubborn())
        await asyncio.sleep(0)
        async with asyncio.timeout(30):
            await lifespan._cancel_until_done(task, interrupt)

    asyncio.run(scenario())
    assert len(interrupts) == 3
