"""One fetch at a time: callers that arrive while a fetch runs wait for that one, and a caller
that gives up (a request timing out) never cancels the fetch the others are waiting on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class SingleFlight:
    """Runs `fetch` for whoever asks, never twice at once; remembers when it last started."""

    def __init__(
        self, fetch: Callable[[], Coroutine[Any, Any, None]], *, clock: Callable[[], float]
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._inflight: asyncio.Task[None] | None = None
        #: When the last fetch started (None before the first).
        self.attempted_at: float | None = None

    @property
    def running(self) -> bool:
        """Whether a fetch is under way (joining it costs the IdP nothing)."""
        return self._inflight is not None

    async def run(self) -> None:
        """Start a fetch unless one runs, then wait for it."""
        task = self._inflight
        if task is None:
            self.attempted_at = self._clock()
            task = asyncio.get_running_loop().create_task(self._fetch())
            self._inflight = task
            task.add_done_callback(self._done)
        # Shielded: a caller that gives up must not cancel the fetch others are waiting on.
        await asyncio.shield(task)

    def _done(self, task: asyncio.Task[None]) -> None:
        if self._inflight is task:
            self._inflight = None
