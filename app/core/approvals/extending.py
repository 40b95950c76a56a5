"""Extensions: the holder of a live grant asks for more time. An extension is an access request
like any other (same reviewers, quorum, durations and justification, judged by `review`),
linked to the grant by `extends`; approved, it moves that grant's end by the approved
duration, and the audit log has both the approval and `grant_extended`.

Races, decided here: an extension is approved only while its grant is live at that moment
(ACTIVE and `now < expires_at`), so one approved after the grant ran out or was revoked is
refused with `grant-not-active` and resurrects nothing. The request stops waiting when the
grant would have ended (or at `pending_ttl`, whichever is first). The store judges this on
the stored grant and request together, in one transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from app.core.approvals.checks import require_aware
from app.core.approvals.codec import encode_seconds, encode_time
from app.core.approvals.errors import ApprovalError, ErrorCode
from app.core.approvals.events import Event, EventType, RequestTransition
from app.core.approvals.grant import Grant, GrantKind
from app.core.approvals.granting import grant_event
from app.core.approvals.person import Scope
from app.core.approvals.request import AccessRequest, Requester, RequestStatus, ReviewDecision
from app.core.approvals.requesting import request_event, resolve, submit
from app.core.approvals.reviewing import review
from app.core.context import Identity
from app.core.policy.model import Policy


def ask_extension(
    grant: Grant,
    *,
    request_id: str,
    policy: Policy,
    requester: Requester,
    by: Identity,
    justification: str | None,
    requested_duration: timedelta | None,
    now: datetime,
) -> RequestTransition:
    """Open a PENDING request to extend `grant`, asked by `by`, who must hold it.

    Only a live grant from an approval, still under the unchanged policy that issued it, can be
    extended: a justified session is renewed by giving the reason again.
    """
    now = require_aware(now)
    if not grant.held_by(by):
        raise ApprovalError(ErrorCode.NOT_YOUR_GRANT)
    if grant.kind is not GrantKind.APPROVAL:
        raise ApprovalError(ErrorCode.GRANT_NOT_EXTENDABLE, grant.kind.value)
    if not grant.is_active(now):
        raise ApprovalError(ErrorCode.GRANT_NOT_ACTIVE, grant.status.value)
    if grant.scope != Scope(grant.application, policy.fingerprint):
        raise ApprovalError(ErrorCode.POLICY_MISMATCH, grant.policy)
    opened = submit(
        request_id=request_id,
        application=grant.application,
        policy=policy,
        requester=requester,
        justification=justification,
        requested_duration=requested_duration,
        now=now,
    )
    request = replace(
        opened.request,
        extends=grant.id,
        expires_at=min(opened.request.expires_at, grant.expires_at),
    )
    link = {"extends": grant.id, "expires_at": encode_time(request.expires_at)}
    events = tuple(
        replace(e, data={**e.data, **link}) if e.type is EventType.REQUEST_SUBMITTED else e
        for e in opened.events
    )
    return RequestTransition(request, events)


def review_extension(
    request: AccessRequest,
    grant: Grant,
    *,
    reviewer: Identity,
    decision: ReviewDecision,
    policy: Policy,
    now: datetime,
    duration: timedelta | None = None,
    comment: str | None = None,
    acting_token: str | None = None,
) -> RequestTransition:
    """`review` of an extension request, judged against `grant` as it stands at `now`.

    Who may review, and the state of the request, are checked first (a non-approver learns
    nothing about the grant); then an approval needs the grant live. A denial needs no grant:
    it only ends the request.
    """
    now = require_aware(now)
    if request.extends != grant.id:
        raise ValueError("the grant is not the one the request extends")
    reviewed = review(
        request,
        reviewer=reviewer,
        decision=decision,
        policy=policy,
        now=now,
        grant_id=grant.id,
        duration=duration,
        comment=comment,
        acting_token=acting_token,
    )
    if decision is ReviewDecision.APPROVE and reviewed.changed and not grant.is_active(now):
        raise ApprovalError(ErrorCode.GRANT_NOT_ACTIVE, grant.status.value)
    issued = reviewed.grant
    if issued is None:
        return reviewed
    added = issued.expires_at - issued.starts_at
    extended = replace(grant, expires_at=grant.expires_at + added, version=grant.version + 1)
    events = tuple(_extended(extended, grant, e, request.id, now) for e in reviewed.events)
    return RequestTransition(reviewed.request, events, extended)


def _extended(
    extended: Grant, before: Grant, event: Event, request_id: str, now: datetime
) -> Event:
    # Where a new grant would have been issued, the existing one is extended instead.
    if event.type is not EventType.GRANT_ISSUED:
        return event
    return grant_event(
        extended,
        EventType.GRANT_EXTENDED,
        now,
        actor=event.actor,
        data={
            "extension_request": request_id,
            "previous_expires_at": encode_time(before.expires_at),
            "expires_at": encode_time(extended.expires_at),
            "added": encode_seconds(extended.expires_at - before.expires_at),
        },
    )


def lapse_extension(request: AccessRequest, grant: Grant, *, now: datetime) -> RequestTransition:
    """An extension request whose grant is no longer live (revoked, ended early) stops waiting
    at once: EXPIRED, with `request_expired` saying `because: grant-not-active`, so no approver
    is left with a request whose approval could only be refused. A request already resolved,
    or whose grant is still live, comes back unchanged with no events."""
    now = require_aware(now)
    if request.extends != grant.id:
        raise ValueError("the grant is not the one the request extends")
    if request.status is not RequestStatus.PENDING or grant.is_active(now):
        return RequestTransition(request, ())
    expired = resolve(request, RequestStatus.EXPIRED, at=now, by=None)
    event = request_event(
        expired,
        EventType.REQUEST_EXPIRED,
        now,
        data={"expires_at": encode_time(now), "because": "grant-not-active"},
    )
    return RequestTransition(expired, (event,))
