"""COUNTERSIGN_DURABILITY over one client: the start-up check and refusal, the readiness
/readyz shows, the guard before each transition and the wait after it that makes "Redis applied
it" mean "a crash cannot undo it" before anyone is told (docs/adr/0008-durable-transitions.md).

What a level needs is judged in `durability_verdict`; the server is asked, and the wait sent,
on one connection by `durability_server`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import structlog
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.adapters.store.durability_server import PROBE_KEY, exchange, read_facts
from app.adapters.store.durability_verdict import Plan, Verdict, judge
from app.config.settings import Durability

#: How often a process asks the server again (appendonly turned off, replicas gone, Redis back).
RECHECK_SECONDS = 5.0

log = structlog.get_logger("countersign.durability")


class UnconfirmedWriteError(RedisError):
    """A change was sent to Redis but is not confirmed: the wait for COUNTERSIGN_DURABILITY ran
    out or failed, or the answer to its EXEC was lost. It may have been applied. HTTP 503."""


class DurabilityUnavailableError(RedisError):
    """The server cannot give COUNTERSIGN_DURABILITY now: nothing was written. HTTP 503."""


class DurabilityRefusedError(RuntimeError):
    """At start: the server cannot give COUNTERSIGN_DURABILITY; `str()` is the one line."""


class DurableWrites:
    """COUNTERSIGN_DURABILITY over one client: the verdict of the last check, the guard before
    each transition and the wait after it. `status()` is what /readyz shows.

    The first transition checks the server if start-up could not (Redis was down); a refused
    verdict stops transitions before they write (503), and the periodic re-check notices a server
    whose AOF was turned off, whose replicas went away, or that came back."""

    def __init__(
        self,
        client: Any,
        durability: Durability,
        *,
        timeout: float = 2.0,
        redis_timeout: float = 0.25,
    ) -> None:
        self._client = client
        self._durability = durability
        self._timeout = timeout
        #: Time on top of the server-side wait for the round trip itself.
        self._margin = redis_timeout
        self._verdict: Verdict | None = None
        self._problem: str | None = None

    @property
    def durability(self) -> Durability:
        """The configured level."""
        return self._durability

    def status(self) -> dict[str, Any]:
        """{level, ready, problem}: whether changes can be confirmed now, and if not, why."""
        verdict = self._verdict
        if self._problem is not None:
            problem: str | None = self._problem
        elif verdict is None:
            problem = "not checked yet"
        elif verdict.plan is None or (verdict.warning and verdict.plan.waits):
            problem = verdict.reason
        else:
            problem = None
        return {"level": str(self._durability), "ready": problem is None, "problem": problem}

    async def check(self) -> Verdict:
        """Ask the server now; remember and return the verdict (Redis errors propagate)."""
        try:
            facts = await read_facts(self._client, within=self._timeout + self._margin)
        except (RedisError, OSError, TimeoutError) as error:
            self._problem = f"Redis does not answer: {str(error)[:200] or type(error).__name__}"
            if isinstance(error, RedisError):
                raise
            raise RedisTimeoutError(self._problem) from error
        verdict = judge(self._durability, facts)
        self._remember(verdict)
        return verdict

    def _remember(self, verdict: Verdict) -> None:
        previous, self._verdict, self._problem = self._verdict, verdict, None
        if previous is not None and previous.reason == verdict.reason:
            return
        if verdict.refused:
            log.error("durability_unavailable", message=verdict.reason)
        elif verdict.warning:
            log.warning("durability_warning", message=verdict.reason)
        else:
            log.info("durability_checked", message=verdict.reason)

    async def start(self, wait: float) -> Verdict | None:
        """The start-up check: the verdict, or None when Redis does not answer within `wait`
        (logged; the periodic check goes on). Raises DurabilityRefusedError when the server
        cannot give the configured level."""
        try:
            async with asyncio.timeout(wait):
                verdict = await self.check()
        except (RedisError, OSError, TimeoutError) as error:
            log.warning(
                "durability_unchecked",
                level=str(self._durability),
                problem=str(error)[:200] or type(error).__name__,
                message="Redis does not answer; COUNTERSIGN_DURABILITY is checked again "
                "before the first change and every few seconds",
            )
            return None
        if verdict.refused:
            raise DurabilityRefusedError(verdict.reason)
        return verdict

    async def watch(self, interval: float = RECHECK_SECONDS) -> None:
        """Check again every `interval` seconds, for ever; failures are remembered, not raised."""
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                await self.check()

    async def require(self) -> Plan:
        """Before a transition: how its change will be confirmed. Checks the server first if
        no check has answered yet; DurabilityUnavailableError if it cannot give the level."""
        if self._durability.level == "none":
            return Plan()
        verdict = self._verdict
        if verdict is None:
            verdict = await self.check()
        if verdict.plan is None:
            raise DurabilityUnavailableError(verdict.reason)
        return verdict.plan

    async def confirm(self, plan: Plan) -> None:
        """After a transition's EXEC answered: wait until the change is as durable as
        configured, at most `timeout` (plus the round trip). UnconfirmedWriteError otherwise."""
        if not plan.waits:
            return
        milliseconds = max(1, int(self._timeout * 1000))
        commands: list[tuple[Any, ...]] = [("SET", PROBE_KEY, "1", "PX", 60_000)]
        if plan.replicas:
            commands.append(("WAIT", plan.replicas, milliseconds))
        if plan.waitaof:
            commands.append(("WAITAOF", 1, 0, milliseconds))
        bound = self._timeout * len(commands[1:]) + self._margin
        try:
            replies = await exchange(self._client, commands, within=bound)
        except (RedisError, OSError, TimeoutError) as error:
            raise UnconfirmedWriteError(
                f"no answer while waiting for {self._durability}: "
                f"{str(error)[:200] or type(error).__name__}"
            ) from error
        problem = self._shortfall(plan, replies)
        if problem is not None:
            raise UnconfirmedWriteError(problem)

    def _shortfall(self, plan: Plan, replies: Sequence[Any]) -> str | None:
        """Why `replies` do not confirm the change, or None if they do."""
        errors = [reply for reply in replies if isinstance(reply, Exception)]
        if errors:
            # The server changed under us (AOF turned off, a command now refused): check
            # again before the next transition instead of trusting the old verdict.
            self._verdict = None
            return f"the server refused the wait for {self._durability}: {str(errors[0])[:200]}"
        waits = list(replies[1:])
        if plan.replicas:
            acknowledged = int(waits.pop(0))
            if acknowledged < plan.replicas:
                self._problem = (
                    f"only {acknowledged} of {plan.replicas} replica(s) acknowledged the last "
                    f"change within {self._timeout:g} s"
                )
                return self._problem
        if plan.waitaof:
            local = int(waits.pop(0)[0])
            if local < 1:
                self._problem = f"the last change was not on disk within {self._timeout:g} s"
                return self._problem
        self._problem = None
        return None


async def refusal(client: Any, durability: Durability, *, within: float) -> str | None:
    """The one line that should stop start-up (the server cannot give `durability`), or None;
    also None when Redis does not answer within `within` seconds (the service starts, says so
    and keeps checking). Logs nothing: the caller prints the line."""
    try:
        async with asyncio.timeout(within):
            facts = await read_facts(client, within=within)
    except (RedisError, OSError, TimeoutError):
        return None
    verdict = judge(durability, facts)
    return verdict.reason if verdict.refused else None
