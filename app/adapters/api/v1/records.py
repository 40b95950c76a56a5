"""Response models for access requests and grants: explicit mirrors of the core records'
`to_dict()`, with durations given both as seconds and in the policy notation."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from app.adapters.api.v1.emergency_records import BreakGlassOut, EscalationOut
from app.core.approvals import (
    AccessRequest,
    Grant,
    GrantKind,
    GrantStatus,
    Requester,
    RequestStatus,
    Review,
    ReviewDecision,
)
from app.core.durations import format_duration


class Duration(BaseModel):
    """A length of time: whole seconds, and the same in the policy notation (`90m`)."""

    seconds: int
    text: str

    @classmethod
    def of(cls, value: timedelta) -> Duration:
        """From a timedelta (whole seconds by construction)."""
        return cls(seconds=int(value.total_seconds()), text=format_duration(value))

    @classmethod
    def maybe(cls, value: timedelta | None) -> Duration | None:
        """None stays None."""
        return None if value is None else cls.of(value)


class DeviceOut(BaseModel):
    """Device posture when the request was made."""

    managed: bool
    tags: list[str]
    id: str | None


class RequesterOut(BaseModel):
    """Who asked, and the signals recorded when they asked. The person is (`issuer`,
    `subject`), null on older records; `user` is their display name."""

    user: str
    issuer: str | None
    subject: str | None
    email: str | None
    groups: list[str]
    client_ip: str | None
    country: str | None
    device: DeviceOut
    user_agent: str

    @classmethod
    def of(cls, requester: Requester) -> RequesterOut:
        """From the core record."""
        device = requester.device
        return cls(
            user=requester.user,
            issuer=requester.issuer,
            subject=requester.subject,
            email=requester.email,
            groups=sorted(requester.groups),
            client_ip=requester.client_ip,
            country=requester.country,
            device=DeviceOut(managed=device.managed, tags=sorted(device.tags), id=device.device_id),
            user_agent=requester.user_agent,
        )


class ReviewOut(BaseModel):
    """One reviewer's decision; `via_token` names the service token it came through. The
    reviewer is the person (`issuer`, `subject`); `reviewer` is their display name."""

    reviewer: str
    issuer: str | None
    subject: str | None
    email: str | None
    groups: list[str]
    decision: ReviewDecision
    at: datetime
    comment: str | None
    duration: Duration | None
    via_token: str | None

    @classmethod
    def of(cls, review: Review) -> ReviewOut:
        """From the core record."""
        return cls(
            reviewer=review.reviewer,
            issuer=review.issuer,
            subject=review.subject,
            email=review.email,
            groups=sorted(review.groups),
            decision=review.decision,
            at=review.at,
            comment=review.comment,
            duration=Duration.maybe(review.duration),
            via_token=review.via_token,
        )


class AccessRequestOut(BaseModel):
    """An access request and every review it had. `policy_fingerprint` identifies the policy's
    approval requirement when it was made: after an edit to it, it can no longer be reviewed."""

    id: str
    application: str
    policy: str
    policy_fingerprint: str | None
    requester: RequesterOut
    justification: str | None
    prompt: str | None
    requested_duration: Duration | None
    status: RequestStatus
    created_at: datetime
    expires_at: datetime
    reviews: list[ReviewOut]
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_comment: str | None
    grant_id: str | None
    version: int
    #: A planned window's start (null: from the approval on).
    starts_at: datetime | None = None
    #: The grant this request asks to extend (null: a request for new access).
    extends: str | None = None
    #: When the fallback approvers may review it (null: the policy names none).
    escalation: EscalationOut | None = None

    @classmethod
    def of(cls, request: AccessRequest) -> AccessRequestOut:
        """From the core record."""
        return cls(
            id=request.id,
            application=request.application,
            policy=request.policy,
            policy_fingerprint=request.policy_fingerprint,
            requester=RequesterOut.of(request.requester),
            justification=request.justification,
            prompt=request.prompt,
            requested_duration=Duration.maybe(request.requested_duration),
            status=request.status,
            created_at=request.created_at,
            expires_at=request.expires_at,
            reviews=[ReviewOut.of(r) for r in request.reviews],
            resolved_at=request.resolved_at,
            resolved_by=request.resolved_by,
            resolution_comment=request.resolution_comment,
            grant_id=request.grant_id,
            version=request.version,
            starts_at=request.starts_at,
            extends=request.extends,
            escalation=EscalationOut.maybe(request),
        )


class GrantOut(BaseModel):
    """Time-boxed access for one person (`issuer`, `subject`; `user` is the display name) to
    one application, under one policy: it counts only while that policy's approval
    requirement still has `policy_fingerprint`."""

    id: str
    request_id: str | None
    application: str
    policy: str
    policy_fingerprint: str | None
    user: str
    issuer: str | None
    subject: str | None
    kind: GrantKind
    starts_at: datetime
    expires_at: datetime
    duration: Duration
    status: GrantStatus
    ended_early: bool
    justification: str | None
    revoked_by: str | None
    revoked_at: datetime | None
    revoke_reason: str | None
    version: int
    #: Whether it is a live planned window that has not begun (`starts_at` still ahead) at the
    #: time of the answer.
    upcoming: bool = False
    #: A break-glass use's review (null: not a break-glass grant).
    break_glass: BreakGlassOut | None = None

    @classmethod
    def of(cls, grant: Grant, *, now: datetime | None = None) -> GrantOut:
        """From the core record."""
        return cls(
            id=grant.id,
            request_id=grant.request_id,
            application=grant.application,
            policy=grant.policy,
            policy_fingerprint=grant.policy_fingerprint,
            user=grant.user,
            issuer=grant.issuer,
            subject=grant.subject,
            kind=grant.kind,
            starts_at=grant.starts_at,
            expires_at=grant.expires_at,
            duration=Duration.of(grant.expires_at - grant.starts_at),
            status=grant.status,
            ended_early=grant.ended_early,
            justification=grant.justification,
            revoked_by=grant.revoked_by,
            revoked_at=grant.revoked_at,
            revoke_reason=grant.revoke_reason,
            version=grant.version,
            upcoming=now is not None and grant.upcoming(now),
            break_glass=BreakGlassOut.maybe(grant),
        )


class AccessOutcomeOut(BaseModel):
    """What asking produced. `created` true: a new request, or a new grant when the policy asks
    only for a justification. `created` false: what you already have under that policy, your
    open request (`request`) or the grant in force (`grant`, `request` null): asking again while
    a grant is in force never opens a second one."""

    created: bool
    request: AccessRequestOut | None
    grant: GrantOut | None


class AccessRequestPage(BaseModel):
    """One page; pass `next_cursor` back as `cursor` for the next (null: the end)."""

    items: list[AccessRequestOut]
    next_cursor: str | None


class GrantPage(BaseModel):
    """One page; pass `next_cursor` back as `cursor` for the next (null: the end)."""

    items: list[GrantOut]
    next_cursor: str | None
