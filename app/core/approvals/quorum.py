"""Counting approvals: N of M distinct people, per-group minimums, and the granted duration.

A person is (issuer, subject), and one e-mail is one person too (in any case): two tokens of one
subject, or two subjects with one e-mail, count once. Only the first approval of each person
counts, never one by the requester, and only while the policy lists them (judged on the
snapshot of their e-mail and groups taken when they reviewed). Approvals recorded before
reviewers' subjects were stored name no person and do not count (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from app.core.approvals.person import Person
from app.core.approvals.request import Requester, Review, ReviewDecision
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


def counted_approvals(
    reviews: Iterable[Review], approval: Approval, *, requester: Requester | None = None
) -> tuple[Review, ...]:
    """The approvals that count: each person's first, from people the policy still lists, and
    none from the requester."""
    people: set[Person] = set()
    emails: set[str] = set()
    counted: list[Review] = []
    for review in reviews:
        person = review.person
        if review.decision is not ReviewDecision.APPROVE or person is None:
            continue
        email = review.email.casefold() if review.email else None
        if person in people or (email is not None and email in emails):
            continue
        people.add(person)
        if email is not None:
            emails.add(email)
        as_reviewed = Identity(
            subject=person.subject, email=review.email, groups=review.groups, issuer=person.issuer
        )
        if requester is not None and requester.same_person(as_reviewed):
            continue
        if approval.is_approver(as_reviewed):
            counted.append(review)
    return tuple(counted)


def tally(
    reviews: Iterable[Review], approval: Approval, *, requester: Requester | None = None
) -> Tally:
    """Count the approvals among `reviews` against `approval` (leaving out `requester`'s).

    The duration is the shortest any counted approver chose: each approver agreed to at least
    that much, and no approver to more.
    """
    counted = counted_approvals(reviews, approval, requester=requester)
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
