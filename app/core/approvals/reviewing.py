"""Applying one review to a request: a pure state change, as in Teleport's access requests.

A resolved request ignores later reviews (`request-not-pending`); the requester never reviews
their own request, not even through a service token acting for them or a token with another
e-mail; any eligible deny ends the request; approvals count once per person until the quorum
is met; only the policy the request was made under, unchanged, may judge it.

Step-up (`reviewers_need`) applies to approvals only: an approval opens access, so the approver
must have signed in as the policy asks (core.approvals.step_up); a denial only closes it, and
an approver whose sign-in has aged must still be able to stop a request at once. Either way
the review's audit entry records the reviewer's `amr` and `auth_time`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from app.core.approvals.checks import check_duration, clean_comment, require_aware
from app.core.approvals.codec import encode_seconds
from app.core.approvals.events import DataValue, Event, EventType, RequestTransition
from app.core.approvals.granting import approved_grant, issue
from app.core.approvals.quorum import tally
from app.core.approvals.request import (
    AccessRequest,
    RequestStatus,
    Review,
    ReviewDecision,
)
from app.core.approvals.requesting import ensure_pending, request_event, resolve
from app.core.approvals.step_up import auth_time_of, require_step_up
from app.core.approvals.visibility import judging_approval
from app.core.context import Identity
from app.core.policy.model import Approval, Policy


def review(
    request: AccessRequest,
    *,
    reviewer: Identity,
    decision: ReviewDecision,
    policy: Policy,
    now: datetime,
    grant_id: str,
    duration: timedelta | None = None,
    comment: str | None = None,
    acting_token: str | None = None,
) -> RequestTransition:
    """Apply `reviewer`'s decision. `grant_id` names the grant issued if this completes the quorum.

    Checks run in this order: the policy and who (core.approvals.visibility, the same rule
    the inbox and the review pages use), then state (resolved, past due), then
    input (comment, duration), then, for an approval, the sign-in (`step-up-required` when it
    does not meet the policy's `reviewers_need` at `now`), so a non-approver learns nothing
    about the request's state and nobody signs in again only to be refused for another reason.
    A second approval by the same approver is an idempotent no-op (no events, same version);
    an approver who approved may still deny, which ends the request.
    """
    now = require_aware(now)
    approval = judging_approval(request, reviewer=reviewer, policy=policy)
    ensure_pending(request, now)
    note = clean_comment(comment)
    chosen: timedelta | None = None
    if decision is ReviewDecision.APPROVE:
        chosen = check_duration(_duration_asked(request, approval, duration), approval)
        require_step_up(reviewer, approval.reviewers_need, now=now)
        earlier = request.reviewed_by(reviewer)
        if earlier is not None and earlier.decision is ReviewDecision.APPROVE:
            return RequestTransition(request, ())
    record = Review(
        reviewer=reviewer.user,
        email=reviewer.email,
        groups=reviewer.groups,
        decision=decision,
        at=now,
        comment=note,
        duration=chosen,
        via_token=acting_token,
        issuer=reviewer.issuer,
        subject=reviewer.subject,
    )
    reviewed = replace(request, reviews=(*request.reviews, record))
    sign_in = _sign_in(reviewer)
    if decision is ReviewDecision.DENY:
        return _deny(reviewed, record, now, sign_in)
    return _approve_if_met(reviewed, record, approval, now=now, grant_id=grant_id, sign_in=sign_in)


def _sign_in(reviewer: Identity) -> dict[str, DataValue]:
    # How the reviewer signed in, for the audit entry: what step-up was judged on.
    return {"amr": tuple(sorted(reviewer.amr)), "auth_time": auth_time_of(reviewer)}


def _duration_asked(
    request: AccessRequest, approval: Approval, duration: timedelta | None
) -> timedelta:
    # Unless the approver says otherwise: what the requester asked for (capped at the maximum
    # the policy allows today), else the policy's default.
    if duration is not None:
        return duration
    if request.requested_duration is not None:
        return min(request.requested_duration, approval.max_duration)
    return approval.default_duration


def _reviewed(
    request: AccessRequest,
    record: Review,
    now: datetime,
    sign_in: dict[str, DataValue],
    **extra: DataValue,
) -> Event:
    data: dict[str, DataValue] = {
        "decision": record.decision.value,
        "comment": record.comment,
        "duration": encode_seconds(record.duration),
        "via_token": record.via_token,
        **sign_in,
        **extra,
    }
    return request_event(request, EventType.REQUEST_REVIEWED, now, actor=record.reviewer, data=data)


def _deny(
    reviewed: AccessRequest, record: Review, now: datetime, sign_in: dict[str, DataValue]
) -> RequestTransition:
    denied = resolve(
        reviewed, RequestStatus.DENIED, at=now, by=record.reviewer, comment=record.comment
    )
    events = (
        _reviewed(denied, record, now, sign_in),
        request_event(
            denied,
            EventType.REQUEST_DENIED,
            now,
            actor=record.reviewer,
            data={"comment": record.comment},
        ),
    )
    return RequestTransition(denied, events)


def _approve_if_met(
    reviewed: AccessRequest,
    record: Review,
    approval: Approval,
    *,
    now: datetime,
    grant_id: str,
    sign_in: dict[str, DataValue],
) -> RequestTransition:
    count = tally(reviewed.reviews, approval, requester=reviewed.requester)
    seen = _reviewed(
        reviewed,
        record,
        now,
        sign_in,
        approvals=len(count.approvers),
        approvals_required=count.required,
    )
    if not count.met or count.duration is None:
        return RequestTransition(replace(reviewed, version=reviewed.version + 1), (seen,))
    grant = approved_grant(reviewed, grant_id=grant_id, now=now, duration=count.duration)
    approved = resolve(
        reviewed,
        RequestStatus.APPROVED,
        at=now,
        by=record.reviewer,
        comment=record.comment,
        grant_id=grant.id,
    )
    done = request_event(
        approved,
        EventType.REQUEST_APPROVED,
        now,
        actor=record.reviewer,
        grant_id=grant.id,
        data={"approvers": count.approvers, "duration": encode_seconds(count.duration)},
    )
    return RequestTransition(approved, (seen, done, issue(grant, actor=record.reviewer)), grant)
