"""Policy impact: the same recorded requests judged by two policy sets, and who gains or loses.

Pure: the caller gives each distinct input once, with how many records it stands for, and
both compiled sets. Grants are left out on both sides (NO_GRANTS): a grant belongs to the
policy that issued it, so what a change does is seen as what each person may do without one
(`approval` when they would have to ask). Any error while judging is a deny, as in service.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from app.core.context import AccessContext
from app.core.decision import NO_GRANTS, Decision, Effect, internal_error
from app.core.policy.evaluate import evaluate
from app.core.policy.policy_set import PolicySet
from app.core.selectors.base import Rule

#: What a time rule is shown (it reads only the time).
_NOWHERE = AccessContext(host="", path="/")
#: Examples kept per group of moved decisions (distinct people first).
MAX_EXAMPLES = 3


class Access(Enum):
    """How open a decision is, from shut to open; a move up is a gain, down a loss."""

    DENY = "deny"
    APPROVAL = "approval"
    JUSTIFICATION = "justification"
    ALLOW = "allow"

    @property
    def rank(self) -> int:
        """The order of openness."""
        return _RANK[self]


_RANK = {access: rank for rank, access in enumerate(Access)}
_ACCESS = {
    Effect.ALLOW: Access.ALLOW,
    Effect.NEEDS_JUSTIFICATION: Access.JUSTIFICATION,
    Effect.NEEDS_APPROVAL: Access.APPROVAL,
    Effect.PENDING: Access.APPROVAL,
}


class Direction(Enum):
    """What a change of outcome means for the person."""

    GAIN = "gain"
    LOSS = "loss"
    CHANGED = "changed"  # as open as before, but another application or policy decides


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one policy set makes of a request: where it routes, which policy, how open."""

    application: str | None
    policy: str | None
    effect: str
    #: The leading reason code (`no-policy-matched`, `policy-block`, `approval-required`...).
    reason: str | None
    access: Access

    @classmethod
    def of(cls, decision: Decision) -> Outcome:
        """The outcome of a decision; an effect not listed is a deny (fail closed)."""
        access = _ACCESS.get(decision.effect, Access.DENY)
        reason = decision.reasons[0].value if decision.reasons else None
        return cls(decision.application, decision.policy, decision.effect.value, reason, access)


@dataclass(frozen=True, slots=True)
class Example:
    """One recorded request, to show an operator who is concerned."""

    user: str | None
    method: str
    url: str
    at: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Case:
    """One distinct recorded input and how many records carried it."""

    context: AccessContext
    now: datetime
    count: int
    example: Example


@dataclass(slots=True)
class Shift:
    """Decisions that moved from one outcome to another, with who and examples."""

    direction: Direction
    before: Outcome
    after: Outcome
    decisions: int = 0
    people: set[str | None] = field(default_factory=set)
    examples: list[Example] = field(default_factory=list)

    @property
    def application(self) -> str | None:
        """The application concerned: where the request goes now, else where it went."""
        return self.after.application or self.before.application

    def add(self, case: Case) -> None:
        """Count a case in; keep it as an example while there is room for another person."""
        example = case.example
        if len(self.examples) < MAX_EXAMPLES and example.user not in self.people:
            self.examples.append(example)
        self.decisions += case.count
        self.people.add(example.user)


@dataclass(frozen=True, slots=True)
class ImpactReport:
    """Every move, by direction, largest first within each application."""

    decisions: int
    distinct: int
    unchanged: int
    shifts: tuple[Shift, ...]

    def of(self, direction: Direction) -> tuple[Shift, ...]:
        """The shifts in one direction."""
        return tuple(s for s in self.shifts if s.direction is direction)


def compare(before: PolicySet, after: PolicySet, cases: Iterable[Case]) -> ImpactReport:
    """Judge every case by both sets and group the ones whose outcome differs."""
    shifts: dict[tuple[Outcome, Outcome], Shift] = {}
    decisions = distinct = unchanged = 0
    for case in cases:
        distinct += 1
        decisions += case.count
        old = Outcome.of(_judge(before, case))
        new = Outcome.of(_judge(after, case))
        if old == new:
            unchanged += case.count
            continue
        shift = shifts.get((old, new))
        if shift is None:
            shift = shifts[old, new] = Shift(_direction(old.access, new.access), old, new)
        shift.add(case)
    ordered = sorted(
        shifts.values(),
        key=lambda s: (
            s.application or "",
            -s.decisions,
            s.before.policy or "",
            s.after.policy or "",
        ),
    )
    return ImpactReport(decisions, distinct, unchanged, tuple(ordered))


def time_rules(*policy_sets: PolicySet) -> tuple[Rule, ...]:
    """Every distinct `time` rule of the sets, in a stable order."""
    found: dict[str, Rule] = {}
    for policy_set in policy_sets:
        for rule in _rules(policy_set):
            if rule.kind == "time":
                found.setdefault(rule.text, rule)
    return tuple(found[text] for text in sorted(found))


def time_signature(rules: tuple[Rule, ...], now: datetime) -> tuple[bool, ...]:
    """Which time rules hold at `now`: two moments with equal signatures are judged alike by
    every policy that holds these rules, whatever else differs between them."""
    return tuple(rule.test(_NOWHERE, now) for rule in rules)


def rule_kinds(policy_set: PolicySet) -> frozenset[str]:
    """The selector kinds the set's rules use (what a replay must keep of a record)."""
    return frozenset(rule.kind for rule in _rules(policy_set))


def _rules(policy_set: PolicySet) -> Iterator[Rule]:
    for app in policy_set.applications.values():
        for policy in app.policies:
            yield from policy.include
            yield from policy.require
            yield from policy.exclude


def _judge(policy_set: PolicySet, case: Case) -> Decision:
    try:
        return evaluate(policy_set, case.context, grants=NO_GRANTS, now=case.now)
    except Exception:  # fail closed, as the service does
        return internal_error()


def _direction(old: Access, new: Access) -> Direction:
    if new.rank > old.rank:
        return Direction.GAIN
    if new.rank < old.rank:
        return Direction.LOSS
    return Direction.CHANGED
