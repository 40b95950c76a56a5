"""The compiled forms of a policy's two ways past a silent approver list: escalation to fallback
approvers (`approval.escalate_after` / `escalate_to`) and self-granted emergency access
(`break_glass`). Immutable values, built once by the compiler (compile_emergency)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.core.context import Identity
from app.core.policy.model import Approver


@dataclass(frozen=True, slots=True)
class Escalation:
    """After `after` without a review, the approvers `to` may review the request too."""

    after: timedelta
    to: tuple[Approver, ...]

    def covers(self, identity: Identity) -> bool:
        """Whether `identity` is one of the fallback approvers."""
        return any(a.covers(identity) for a in self.to)


@dataclass(frozen=True, slots=True)
class BreakGlass:
    """Who may grant themselves access at once (`who`), for at most `max_duration`, and how
    soon an approver of the policy must review that use (`review_within`)."""

    who: tuple[Approver, ...]
    max_duration: timedelta
    review_within: timedelta

    def allows(self, identity: Identity) -> bool:
        """Whether `identity` may break the glass under this policy."""
        return any(a.covers(identity) for a in self.who)
