"""Running one workflow transition against Redis: WATCH what it reads, ask the pure step for the
next state, write it in one MULTI, retry on contention within a time budget, and confirm the
change durable (COUNTERSIGN_DURABILITY) before anyone hears of it.

What a transition reads and writes is the caller's (`redis_workflow`, `writes`); this module
owns only the retry, timeout and durability rules shared by every transition.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.adapters.store import audit
from app.adapters.store.durability import DurableWrites, UnconfirmedWriteError
from app.adapters.store.keys import AUDIT_HEAD_KEY
from app.core.approvals import Grant

#: Contention retries stop after this many times COUNTERSIGN_REDIS_TIMEOUT (2 s by default).
BUDGET_PER_REDIS_TIMEOUT = 8
#: Full-jitter backoff between contention retries: up to 1 ms, doubling, at most 50 ms.
BACKOFF_FIRST = 0.001
BACKOFF_CEILING = 0.05

T = TypeVar("T")
#: Reads (through the WATCHing pipeline) and returns what to write, or what to answer with.
Body = Callable[[Any], Awaitable[T]]
#: Queues the writes of a result inside the MULTI, given the audit head read at the start.
Write = Callable[[Any, T, audit.Head], None]


class ContentionError(RuntimeError):
    """A transition kept losing races for its whole time budget; nothing was written and the
    caller may retry later (HTTP 503)."""


class Transactions:
    """Runs transitions over one client, each within `BUDGET_PER_REDIS_TIMEOUT` x
    `redis_timeout`, confirmed by `durable`."""

    def __init__(self, client: Any, *, durable: DurableWrites, redis_timeout: float) -> None:
        self._client = client
        self._durable = durable
        self._budget = BUDGET_PER_REDIS_TIMEOUT * redis_timeout
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    async def run(self, watch: list[str], body: Body[T], write: Write[T]) -> T:
        """Run one transition within its time budget, then confirm it durable.

        `watch` names what `body` reads; the audit head is WATCHed and read after them, as
        every transition appends to the audit log.
        A result that is a Grant, or says it did not change (`changed` false), is answered
        without writing. A WatchError from EXEC is contention: retried on fresh data after a
        jittered, growing pause until the budget is spent, then ContentionError. A Redis
        timeout or lost connection is not contention: before EXEC is sent (nothing written) it
        is retried once on a fresh connection if the budget allows, else raised (503
        store-unavailable); once EXEC is sent its outcome is unknown and it is never sent
        again: UnconfirmedWriteError. Transitions of this process take turns, one attempt at
        a time (see `_turn`)."""
        plan = await self._durable.require()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._budget
        contended = 0
        reconnected = False
        while True:
            attempt = _Attempt()
            try:
                async with asyncio.timeout_at(deadline), self._turn():
                    result = await self._attempt(attempt, watch, body, write)
            except (WatchError, RedisConnectionError, RedisTimeoutError, TimeoutError) as exc:
                failure = _store_failure(exc)
                if failure is None:  # EXEC answered nil: nothing was written
                    contended += 1
                    pause = random.uniform(  # noqa: S311  (jitter, not a secret)
                        0, min(BACKOFF_CEILING, BACKOFF_FIRST * 2 ** min(contended, 16))
                    )
                    if loop.time() + pause >= deadline:
                        raise ContentionError("the record kept changing; try again") from None
                    await asyncio.sleep(pause)
                    continue
                if attempt.exec_sent:
                    raise UnconfirmedWriteError(
                        "the answer to the change was lost; it may have been applied"
                    ) from exc
                if reconnected or loop.time() >= deadline:
                    if contended and not isinstance(failure, RedisError):
                        raise ContentionError("the record kept changing; try again") from exc
                    raise _store_error(failure, self._budget) from exc
                reconnected = True
                continue
            await self._durable.confirm(plan)
            return result

    def _turn(self) -> asyncio.Lock:
        """Every transition also moves the audit head, so the transitions of one process
        contend with each other: without turns, 20 concurrent approvals spend their time
        aborting each other's EXECs (15 round trips/s instead of 120 in `make bench`). So each
        attempt takes this store's turn (a lock per event loop): waited for within the
        transition's budget, held for one attempt only, never across a retry's pause. A stalled
        Redis gives the turn back after one socket timeout, as the failure surfaces at once."""
        loop = asyncio.get_running_loop()
        lock = self._turns.get(loop)
        if lock is None:
            lock = self._turns[loop] = asyncio.Lock()
        return lock

    async def _attempt(
        self, attempt: _Attempt, watch: list[str], body: Body[T], write: Write[T]
    ) -> T:
        async with self._client.pipeline(transaction=True) as pipe:
            await pipe.watch(*watch, AUDIT_HEAD_KEY)
            head = audit.Head.parse(await pipe.get(AUDIT_HEAD_KEY))
            result = await body(pipe)
            if isinstance(result, Grant) or (
                result is not None and not getattr(result, "changed", True)
            ):
                return result
            pipe.multi()
            write(pipe, result, head)
            attempt.exec_sent = True
            await pipe.execute()
            return result


class _Attempt:
    """Whether this attempt's EXEC has been sent: from then on its outcome may be unknown."""

    __slots__ = ("exec_sent",)

    def __init__(self) -> None:
        self.exec_sent = False


def _store_failure(exc: BaseException) -> BaseException | None:
    """The timeout or connection failure behind `exc`, or None for true contention. redis-py
    reports a connection lost while WATCHing as a WatchError; its cause is the real failure."""
    if isinstance(exc, WatchError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, RedisConnectionError | RedisTimeoutError | OSError | TimeoutError):
            return cause
        return None
    return exc


def _store_error(failure: BaseException, budget: float) -> RedisError:
    """The error to surface for a Redis that failed before EXEC: its own, or a timeout when
    the transition's time budget ran out first."""
    if isinstance(failure, RedisConnectionError):
        return RedisConnectionError(str(failure))
    if isinstance(failure, RedisTimeoutError):
        return RedisTimeoutError(str(failure))
    return RedisTimeoutError(f"Redis did not answer within the {budget:g} s budget")
