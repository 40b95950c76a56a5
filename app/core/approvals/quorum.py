"""Counting approvals: N of M distinct approvers, per-group minimums, and the granted duration.

Only the first approval of each reviewer counts, and only while the policy still lists them
(judged on the snapshot of their email and groups taken when they reviewed): removing someone
from the approvers withdraws the weight of their pending approvals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from app.core.approvals.request import Review, ReviewDecision
from app.core.context import Identity
from app.core.policy.model import Approval


@dataclass(frozen=True, slots=True)
class GroupCount:
    """How many distinct approvers from one group with a `required` count have approved."""

    group: str
    have: int
    need: int

    @property
    def met(self) -> bool:
        """Whether the group's minimum is reached."""
        return self.have >= self.need


@dataclass(frozen=True, slots=True)
class Tally:
    """Where the approvals of one request stand against a policy."""

    approvers: tuple[str, ...]
    required: int
    groups: tuple[GroupCount, ...]
    duration: timedelta | None

    @property
    def met(self) -> bool:
        """Enough distinct approvers overall, and every group's minimum reached."""
        return len(self.approvers) >= self.required and all(g.met for g in self.groups)


def counted_approvals(reviews: Iterable[Review], approval: Approval) -> tuple[Review, ...]:
    """The approvals that count: each reviewer's first, from reviewers the policy still lists."""
    seen: set[str] = set()
    counted: list[Review] = []
    for review in reviews:
        if review.decision is not ReviewDecision.APPROVE or review.reviewer in seen:
            continue
        seen.add(review.reviewer)
        as_reviewed = Identity(subject=review.reviewer, email=review.email, groups=review.groups)
        if approval.is_approver(as_reviewed):
            counted.append(review)
    return tuple(counted)


def tally(reviews: Iterable[Review], approval: Approval) -> Tally:
    """Count the approvals among `reviews` against `approval`.

    The duration is the shortest any counted approver chose: each approver agreed to at least
    that much, and no approver to more.
    """
    counted = counted_approvals(reviews, approval)
    groups = tuple(
        GroupCount(
            group=entry.value,
            have=sum(1 for r in counted if entry.value in r.groups),
            need=entry.required,
        )
        for entry in approval.approvers
        if entry.kind == "group" and entry.required > 0
    )
    durations = [r.duration for r in counted if r.duration is not None]
    return Tally(
        approvers=tuple(r.reviewer for r in counted),
        required=approval.approvals_required,
        groups=groups,
        duration=min(durations) if durations else None,
    )
