"""How the notifier's loops live through errors: a pause that grows with each failure in a row
(so a Redis that is down or a group that is gone is not hammered every second), and one log
line when a loop starts failing, fails differently, or works again, instead of one per try."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

log = structlog.get_logger("countersign.notify")


def backoff(attempt: int, *, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Seconds to wait after the `attempt`-th failed try: between half and all of
    min(cap, base * 2**(attempt-1)), so replicas retrying together spread out."""
    ceiling: float = min(cap, base * float(2 ** max(attempt - 1, 0)))
    return ceiling / 2 + rand() * ceiling / 2


def problem_of(error: BaseException) -> str:
    """A short description of an error for logs and /readyz (redis-py messages carry no
    credentials; the length is bounded all the same)."""
    return f"{type(error).__name__}: {error}"[:300]


def kind_of(error: BaseException) -> str:
    """What makes two errors "the same trouble": the type and the Redis error code (NOGROUP,
    LOADING, ...), not the text, which may carry ids that change each time."""
    words = str(error).split(maxsplit=1)
    code = words[0] if words and words[0].isupper() else ""
    return f"{type(error).__name__} {code}".strip()


class LoopErrors:
    """One loop's run of failures in a row: pauses, log lines on change, and a status."""

    def __init__(
        self,
        loop: str,
        *,
        base: float,
        cap: float,
        rand: Callable[[], float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.loop = loop
        self._base = base
        self._cap = cap
        self._rand = rand
        self._clock = clock
        self.failures = 0
        self._kind: str | None = None
        self._problem = ""
        self._since = 0.0

    def failed(self, error: BaseException) -> float:
        """Count a failure; log it if the loop was fine or failed differently until now.
        Returns how long to pause before the next try."""
        kind = kind_of(error)
        self._problem = problem_of(error)
        if self.failures == 0:
            self._since = self._clock()
        if kind != self._kind:
            log.warning("notifier_error", loop=self.loop, problem=self._problem)
            self._kind = kind
        self.failures += 1
        return backoff(self.failures, base=self._base, cap=self._cap, rand=self._rand)

    def failing_with(self, error: BaseException) -> bool:
        """Whether the loop's last try failed the same way."""
        return self.failures > 0 and self._kind == kind_of(error)

    def succeeded(self) -> None:
        """The loop works (again): log the end of a run of failures, once."""
        if self.failures == 0:
            return
        log.info(
            "notifier_recovered",
            loop=self.loop,
            failures=self.failures,
            seconds=round(self._clock() - self._since, 3),
        )
        self.failures = 0
        self._kind = None

    def status(self) -> dict[str, Any] | None:
        """While failing: since when, how often, and the last problem."""
        if self.failures == 0:
            return None
        since = datetime.fromtimestamp(self._since, UTC).isoformat()
        return {"failures": self.failures, "since": since, "problem": self._problem}
