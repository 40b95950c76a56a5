"""Waiting on a condition inside a test's event loop: poll it, letting the loop run between
tries, until it holds; fail the test after a deadline, naming what never happened."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable


async def until(
    condition: Callable[[], object],
    what: str = "the condition",
    *,
    within: float = 10.0,
    every: float = 0.01,
) -> None:
    """Wait until `condition()` is truthy (awaited first when it returns an awaitable, such as
    a Redis count); AssertionError naming `what` after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if loop.time() > deadline:
            raise AssertionError(f"not within {within:g} s: {what}")
        await asyncio.sleep(every)
