"""Decisions: the effect, why (reason codes), and which application and policy decided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from app.core.reasons import Reason


class Effect(Enum):
    """What the proxy should do. The value is the lowercase name used in JSON and logs."""

    ALLOW = "allow"
    DENY = "deny"
    UNAUTHENTICATED = "unauthenticated"
    NEEDS_JUSTIFICATION = "needs_justification"
    NEEDS_APPROVAL = "needs_approval"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class GrantState:
    """What the grant store knows for one person, application and policy, fetched before
    evaluation for the policy that matched.

    A grant or justified session counts iff `now < expires_at`, and a grant for a planned
    window only from `grant_starts_at` on (None: from its issue); an expired one is still
    reported so the decision can say `grant-expired`, an upcoming one `grant-upcoming`.
    `policy` is the fingerprint of the policy the state was read for (the store always sets
    it); a state read for another policy than the one that matched counts as nothing. None is
    for sources that know only one policy (samples).
    """

    grant_expires_at: datetime | None = None
    grant_id: str | None = None
    justified_until: datetime | None = None
    pending_request_id: str | None = None
    policy: str | None = None
    grant_starts_at: datetime | None = None


NO_GRANTS = GrantState()


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """One line of the explain table: a selector in a section, whether it matched, and why."""

    section: str  # include | require | exclude
    index: int
    selector: str  # the rule as written, e.g. "group: [sre]"
    matched: bool
    reason: Reason


@dataclass(frozen=True, slots=True)
class PolicyTrace:
    """How one policy fared: whether it matched, and each rule's outcome."""

    policy: str
    action: str
    matched: bool
    reason: Reason
    rules: tuple[RuleTrace, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one request. `explain` is filled only when asked for."""

    effect: Effect
    reasons: tuple[Reason, ...]
    application: str | None = None
    policy: str | None = None
    grant_id: str | None = None
    grant_expires_at: datetime | None = None
    pending_request_id: str | None = None
    explain: tuple[PolicyTrace, ...] = ()

    @property
    def allowed(self) -> bool:
        """True only for ALLOW; every other effect keeps the door shut."""
        return self.effect is Effect.ALLOW


def internal_error(application: str | None = None) -> Decision:
    """The fail-closed answer for any error on the decision path."""
    return Decision(Effect.DENY, (Reason.INTERNAL_ERROR,), application=application)
