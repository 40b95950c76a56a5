"""Judging COUNTERSIGN_DURABILITY against what a Redis server says about itself: whether the
level can be given and how each change is then confirmed (docs/adr/0008-durable-transitions.md).

Pure: the facts come in (see `durability_server`), a verdict with its one-line reason goes out.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.config.settings import Durability

#: The first Redis compatibility level with WAITAOF (Valkey reports 7.2.4 in redis_version).
WAITAOF_SINCE = (7, 2, 0)


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
