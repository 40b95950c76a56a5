"""COUNTERSIGN_DURABILITY: what the Redis server can promise (checked at start and every few
seconds after), and the wait after each transition that makes "Redis applied it" mean "a crash
cannot undo it" before anyone is told (docs/adr/0008-durable-transitions.md).

WAITAOF and WAIT count the writes of the connection that sends them, and do not block inside
MULTI. So after a transition's EXEC has answered, one connection sends, in one round trip, a tiny
write to a `{cs}` key and then the wait: the AOF and the replication stream are ordered, so that
later write being on disk (or on the replicas) covers the EXEC before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.adapters.store.keys import PREFIX
from app.config import Durability

#: Written before each wait; the hash tag puts it in the slot (Cluster: on the node) of the data.
PROBE_KEY = f"{PREFIX}:durability:probe"
#: The first Redis compatibility level with WAITAOF (Valkey reports 7.2.4 in redis_version).
WAITAOF_SINCE = (7, 2, 0)
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


@dataclass(frozen=True, slots=True)
class Plan:
    """What follows each change: `WAITAOF 1 0` (the primary's disk), `WAIT replicas`, both, or
    nothing (level `none`, or `appendfsync always`: Redis fsyncs before it replies)."""

    waitaof: bool = False
    replicas: int = 0

    @property
    def waits(self) -> bool:
        """Whether anything is sent after a change."""
        return self.waitaof or self.replicas > 0


@dataclass(frozen=True, slots=True)
class ServerFacts:
    """What the server says about itself; None where it would not say (CONFIG refused)."""

    product: str
    version: tuple[int, ...]
    appendonly: bool | None
    appendfsync: str | None
    replicas: int
    #: None if `WAITAOF 1 0` answered; else the server's error (unknown command, AOF off, ACL).
    waitaof_error: str | None
    config_error: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a check: how each change is confirmed (None: it cannot be) and why, in
    one line. `warning`: the level is possible but not now, or not a promise (`none`)."""

    plan: Plan | None
    reason: str
    warning: bool = False

    @property
    def refused(self) -> bool:
        """Whether the server cannot give the configured level at all."""
        return self.plan is None


def judge(durability: Durability, facts: ServerFacts) -> Verdict:
    """Whether `facts` can give `durability`, and how each change is then confirmed."""
    setting = f"COUNTERSIGN_DURABILITY={durability}"
    if durability.level == "none":
        return Verdict(
            Plan(),
            f"{setting}: changes are acknowledged before they are on disk "
            f"(appendonly {_shown(facts.appendonly)}, appendfsync {facts.appendfsync or '?'} "
            f"on {facts.product}); a crash of Redis may undo acknowledged approvals and "
            "revocations",
            warning=True,
        )
    local = _local(facts)
    if isinstance(local, str):
        return Verdict(
            None,
            f"{setting} cannot be given: {local}; set `appendonly yes` with "
            "`appendfsync always` on the server, use Redis 7.2+ or Valkey (WAITAOF), or set "
            "COUNTERSIGN_DURABILITY=none (a crash may then undo acknowledged changes)",
        )
    wanted = durability.replicas if durability.level == "replicas" else 0
    plan = Plan(waitaof=local, replicas=wanted)
    how = "WAITAOF after each change" if local else "appendfsync always"
    if wanted > facts.replicas:
        return Verdict(
            plan,
            f"{setting}: {facts.product} has {facts.replicas} connected replica(s); changes "
            f"answer 503 until {wanted} acknowledge them",
            warning=True,
        )
    replicas = f" and WAIT {wanted}" if wanted else ""
    return Verdict(plan, f"{setting}: on {facts.product} by {how}{replicas}")


def _local(facts: ServerFacts) -> bool | str:
    """True: WAITAOF confirms the primary's disk; False: nothing to wait for (appendfsync
    always); a string: why the primary cannot promise its disk."""
    if facts.appendonly is False:
        return f"{facts.product} runs with appendonly no"
    if facts.version >= WAITAOF_SINCE and facts.waitaof_error is None:
        return True
    if facts.appendonly and facts.appendfsync == "always":
        return False
    if facts.version >= WAITAOF_SINCE:
        return f"WAITAOF fails on {facts.product} ({facts.waitaof_error})"
    if facts.appendfsync is None:
        return (
            f"{facts.product} has no WAITAOF and refuses CONFIG GET ({facts.config_error}), "
            "so `appendfsync always` cannot be verified"
        )
    return f"{facts.product} has no WAITAOF and runs appendfsync {facts.appendfsync}"


def _shown(flag: bool | None) -> str:
    return "?" if flag is None else ("yes" if flag else "no")


async def read_facts(client: Any, *, within: float) -> ServerFacts:
    """Ask the server (the node holding `{cs}` on a Cluster) what it can give, in one round
    trip. Redis errors other than a refused command propagate."""
    replies = await exchange(
        client,
        [
            ("INFO", "server"),
            ("INFO", "replication"),
            ("CONFIG", "GET", "appendonly"),
            ("CONFIG", "GET", "appendfsync"),
            ("WAITAOF", 1, 0, max(1, int(within * 1000))),
        ],
        within=within,
    )
    server, replication, appendonly, appendfsync, waitaof = replies
    for reply in (server, replication):
        if isinstance(reply, Exception):
            raise reply
    fields = _info(server) | _info(replication)
    config_error = next(
        (str(r) for r in (appendonly, appendfsync) if isinstance(r, Exception)), None
    )
    only = _config_value(appendonly)
    compatible = fields.get("redis_version", "0")
    product = (
        f"Valkey {fields['valkey_version']}"
        if "valkey_version" in fields
        else f"Redis {compatible}"
    )
    return ServerFacts(
        product=product,
        version=_version(compatible),
        appendonly=None if only is None else only == "yes",
        appendfsync=_config_value(appendfsync),
        replicas=int(fields.get("connected_slaves", "0") or 0),
        waitaof_error=str(waitaof) if isinstance(waitaof, Exception) else None,
        config_error=config_error,
    )


def _info(reply: Any) -> dict[str, str]:
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    fields = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and not name.startswith("#"):
            fields[name.strip()] = value.strip()
    return fields


def _config_value(reply: Any) -> str | None:
    # RESP2 answers [name, value]; RESP3 a map; a refused CONFIG is an exception.
    if isinstance(reply, dict):
        values = list(reply.values())
    elif isinstance(reply, list | tuple):
        values = list(reply[1::2])
    else:
        return None
    if not values:
        return None
    value = values[0]
    return (value.decode() if isinstance(value, bytes) else str(value)).lower()


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


async def exchange(client: Any, commands: Sequence[tuple[Any, ...]], *, within: float) -> list[Any]:
    """Send `commands` in one write on one connection (on a Cluster: to the node that owns
    PROBE_KEY's slot) and return each reply, or the error the server answered in its place.

    The whole exchange is bounded by `within` seconds; a connection that failed or timed out
    part-way is closed, never handed back with replies left unread."""
    async with asyncio.timeout(within), _connection(client) as connection:
        await connection.send_packed_command(connection.pack_commands(commands))
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(await connection.read_response(timeout=math.inf))
            except ResponseError as error:
                replies.append(error)
        return replies


@contextlib.asynccontextmanager
async def _connection(client: Any) -> AsyncIterator[Any]:
    if isinstance(client, RedisCluster):
        await client.initialize()
        node = client.get_node_from_key(PROBE_KEY)
        if node is None:
            raise RedisError(f"no Cluster node owns the slot of {PROBE_KEY}")
        connection = node.acquire_connection()
        release: Any = node.release
    else:
        pool = client.connection_pool
        connection = await pool.get_connection()
        release = pool.release
    try:
        yield connection
    except BaseException:
        await connection.disconnect()
        raise
    finally:
        done = release(connection)
        if asyncio.iscoroutine(done):
            await done


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
