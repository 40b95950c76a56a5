"""Break-glass: a person the policy names grants themselves access at once, with a reason; an
approver of the policy reviews that use afterwards, within `review_within`.

It is meant to be loud: the `break_glass_used` event reaches every channel, the grant records
the review it awaits, and a use still unreviewed at its deadline is reported once
(`break_glass_review_overdue`), after which the policy's fallback approvers may review it too.
A use judged not justified revokes the grant if it is still live.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from app.core.approvals.checks import clean_comment, clean_justification, require_aware, require_id
from app.core.approvals.codec import encode_seconds, encode_time
from app.core.approvals.emergency_records import BreakGlassState, Verdict
from app.core.approvals.errors import ApprovalError, ErrorCode
from app.core.approvals.events import EventType, GrantTransition
from app.core.approvals.grant import Grant, GrantKind
from app.core.approvals.granting import grant_event, issue, revoke
from app.core.approvals.person import same_email
from app.core.approvals.request import Requester
from app.core.approvals.requesting import signals
from app.core.context import Identity
from app.core.durations import in_words
from app.core.policy.model import Policy

#: What a revocation for a use judged not justified says when the reviewer gave no comment.
NOT_JUSTIFIED_REASON = "break-glass use judged not justified"
_ONE_SECOND = timedelta(seconds=1)


def break_glass(
    *,
    grant_id: str,
    application: str,
    policy: Policy,
    identity: Identity,
    requester: Requester,
    justification: str | None,
    duration: timedelta | None,
    current: Grant | None,
    now: datetime,
) -> GrantTransition:
    """Issue a BREAK_GLASS grant for `identity` under `policy`, from `now`, for `duration`
    (default and ceiling: the policy's `max_duration`). A reason is always required.

    `current` is the grant the person already has for this policy (or None): one that lets
    them in now comes back unchanged with no events (nothing to break); a planned window not
    yet begun is refused (`grant-in-force`), since one person holds one grant per policy."""
    now = require_aware(now)
    require_id(grant_id, "grant_id")
    require_id(policy.fingerprint, "policy fingerprint")
    rule = policy.break_glass
    if rule is None or policy.approval is None:
        raise ApprovalError(ErrorCode.BREAK_GLASS_NOT_OFFERED, policy.name)
    if not rule.allows(identity):
        raise ApprovalError(ErrorCode.NOT_ALLOWED_TO_BREAK_GLASS, policy.name)
    if current is not None and current.is_active(now):
        if current.upcoming(now):
            raise ApprovalError(ErrorCode.GRANT_IN_FORCE, "a planned window is already approved")
        return GrantTransition(current, ())
    text = clean_justification(justification, policy.justification)
    if text is None:
        raise ApprovalError(ErrorCode.JUSTIFICATION_REQUIRED, "break-glass always needs a reason")
    length = _duration(duration, rule.max_duration)
    grant = Grant(
        id=grant_id,
        request_id=None,
        application=application,
        policy=policy.name,
        user=requester.user,
        kind=GrantKind.BREAK_GLASS,
        starts_at=now,
        expires_at=now + length,
        justification=text,
        issuer=requester.issuer,
        subject=requester.subject,
        policy_fingerprint=policy.fingerprint,
        break_glass=BreakGlassState(review_due_at=now + rule.review_within),
    )
    used = grant_event(
        grant,
        EventType.BREAK_GLASS_USED,
        now,
        actor=requester.user,
        data={
            "policy": policy.name,
            "justification": text,
            "duration": encode_seconds(length),
            "review_due_at": encode_time(now + rule.review_within),
            **signals(requester),
        },
    )
    return GrantTransition(grant, (used, issue(grant, actor=requester.user)))


def _duration(asked: timedelta | None, ceiling: timedelta) -> timedelta:
    if asked is None:
        return ceiling
    if asked <= timedelta(0):
        raise ApprovalError(ErrorCode.DURATION_NOT_POSITIVE, "a duration must be positive")
    if asked % _ONE_SECOND:
        raise ApprovalError(ErrorCode.DURATION_NOT_WHOLE_SECONDS)
    if asked > ceiling:
        raise ApprovalError(ErrorCode.DURATION_TOO_LONG, f"at most {in_words(ceiling)}")
    return asked


def may_judge(
    grant: Grant, *, reviewer: Identity, policy: Policy | None, now: datetime
) -> BreakGlassState:
    """The use's review state, or the refusal unless `reviewer` may review it: an approver
    the policy lists (or, once the review is overdue, a fallback approver), never its holder."""
    state = grant.break_glass
    if state is None:
        raise ApprovalError(ErrorCode.NOT_BREAK_GLASS, grant.id)
    if policy is None or policy.approval is None:
        raise ApprovalError(ErrorCode.POLICY_MISMATCH, grant.policy)
    if grant.held_by(reviewer) or same_email(reviewer.email, _holder_email(grant)):
        raise ApprovalError(ErrorCode.SELF_APPROVAL, "a break-glass use is reviewed by others")
    listed = policy.approval.is_approver(reviewer)
    if not listed and not (state.overdue(now) and policy.approval.is_fallback_approver(reviewer)):
        raise ApprovalError(ErrorCode.NOT_AN_APPROVER, policy.name)
    return state


def _holder_email(grant: Grant) -> str | None:
    # Grants name their holder by e-mail when one was known (Requester.user prefers it).
    return grant.user if "@" in grant.user else None


def review_break_glass(
    grant: Grant,
    *,
    reviewer: Identity,
    policy: Policy | None,
    verdict: Verdict,
    now: datetime,
    comment: str | None = None,
) -> GrantTransition:
    """Record `reviewer`'s verdict on a break-glass use; NOT_JUSTIFIED also revokes the grant
    when it is still live (an ended one only gets the verdict). One review per use: a second
    is refused (`break-glass-already-reviewed`)."""
    now = require_aware(now)
    state = may_judge(grant, reviewer=reviewer, policy=policy, now=now)
    if state.verdict is not None:
        raise ApprovalError(ErrorCode.BREAK_GLASS_ALREADY_REVIEWED, state.verdict.value)
    note = clean_comment(comment)
    judged = replace(
        grant,
        break_glass=replace(
            state, verdict=verdict, reviewed_by=reviewer.user, reviewed_at=now, comment=note
        ),
        version=grant.version + 1,
    )
    reviewed = grant_event(
        judged,
        EventType.BREAK_GLASS_REVIEWED,
        now,
        actor=reviewer.user,
        data={
            "verdict": verdict.value,
            "comment": note,
            "late": now >= state.review_due_at,
            # What notifications show: the verdict, and the reviewer's words if any.
            "reason": f"{verdict.value}: {note}" if note else verdict.value,
        },
    )
    if verdict is Verdict.JUSTIFIED or not judged.is_active(now):
        return GrantTransition(judged, (reviewed,))
    ended = revoke(
        replace(judged, version=grant.version),
        by=reviewer,
        is_admin=False,
        is_approver=True,
        now=now,
        reason=note or NOT_JUSTIFIED_REASON,
    )
    return GrantTransition(ended.grant, (reviewed, *ended.events))


def report_overdue(grant: Grant, *, now: datetime) -> GrantTransition:
    """An unreviewed break-glass use at or past its review deadline -> reported overdue, once.

    Idempotent: reviewed, already reported, not a break-glass grant, or not yet due comes back
    unchanged with no events (so racing sweeps write one event between them)."""
    now = require_aware(now)
    state = grant.break_glass
    if state is None or state.overdue_at is not None or not state.overdue(now):
        return GrantTransition(grant, ())
    flagged = replace(grant, break_glass=replace(state, overdue_at=now), version=grant.version + 1)
    event = grant_event(
        flagged,
        EventType.BREAK_GLASS_REVIEW_OVERDUE,
        now,
        actor=None,
        data={"review_due_at": encode_time(state.review_due_at)},
    )
    return GrantTransition(flagged, (event,))
