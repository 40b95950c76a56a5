"""Telling a cancelled notifier task from a failed step, so stopping always stops."""

from __future__ import annotations

import asyncio


def cancelled_meanwhile(error: Exception) -> None:
    """Re-raise cancellation that surfaced as another error: redis-py can turn a cancel that
    lands mid-read into a ConnectionError, and a loop that went on would never stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from error
