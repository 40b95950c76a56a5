"""Grants: issuing one (from an approval or a justification), revoking or ending it early, and
expiring it. Who may revoke is decided here; who is an admin or approver is the caller's input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from app.core.approvals.checks import clean_comment, clean_justification, require_aware, require_id
from app.core.approvals.codec import encode_seconds, encode_time
from app.core.approvals.errors import ApprovalError, ErrorCode
from app.core.approvals.events import DataValue, Event, EventType, GrantTransition
from app.core.approvals.grant import Grant, GrantKind, GrantStatus
from app.core.approvals.person import Scope
from app.core.approvals.request import AccessRequest, Requester
from app.core.approvals.requesting import signals
from app.core.context import Identity
from app.core.policy.model import Policy


def grant_event(
    grant: Grant,
    kind: EventType,
    at: datetime,
    *,
    actor: str | None,
    data: Mapping[str, DataValue] | None = None,
) -> Event:
    """An event about `grant`."""
    return Event(
        type=kind,
        at=at,
        application=grant.application,
        user=grant.user,
        actor=actor,
        request_id=grant.request_id,
        grant_id=grant.id,
        data=data or {},
    )


def issue(grant: Grant, *, actor: str | None) -> Event:
    """The `grant_issued` event for a new grant."""
    return grant_event(
        grant,
        EventType.GRANT_ISSUED,
        grant.starts_at,
        actor=actor,
        data={
            "kind": grant.kind.value,
            "policy": grant.policy,
            "starts_at": encode_time(grant.starts_at),
            "expires_at": encode_time(grant.expires_at),
            "duration": encode_seconds(grant.expires_at - grant.starts_at),
        },
    )


def justify(
    *,
    grant_id: str,
    application: str,
    policy: Policy,
    requester: Requester,
    justification: str | None,
    now: datetime,
) -> GrantTransition:
    """Record a reason under a justification-only policy and open a session from `now` for the
    policy's `session_duration`. Policies that also need approval take the reason in `submit`."""
    now = require_aware(now)
    require_id(grant_id, "grant_id")
    require_id(application, "application")
    require_id(policy.fingerprint, "policy fingerprint")
    rules = policy.justification
    if rules is None:
        raise ApprovalError(ErrorCode.POLICY_NEEDS_NO_JUSTIFICATION, policy.name)
    if policy.approval is not None:
        raise ApprovalError(ErrorCode.POLICY_NEEDS_APPROVAL, policy.name)
    text = clean_justification(justification, rules)
    grant = Grant(
        id=grant_id,
        request_id=None,
        application=application,
        policy=policy.name,
        user=requester.user,
        kind=GrantKind.JUSTIFICATION,
        starts_at=now,
        expires_at=now + rules.session_duration,
        justification=text,
        issuer=requester.issuer,
        subject=requester.subject,
        policy_fingerprint=policy.fingerprint,
    )
    recorded = grant_event(
        grant,
        EventType.JUSTIFICATION_RECORDED,
        now,
        actor=requester.user,
        data={
            "policy": policy.name,
            "justification": text,
            "prompt": rules.prompt,
            **signals(requester),
        },
    )
    return GrantTransition(grant, (recorded, issue(grant, actor=requester.user)))


def approved_grant(
    request: AccessRequest, *, grant_id: str, now: datetime, duration: timedelta
) -> Grant:
    """The grant an approval of `request` issues: for its requester, under the policy (and
    fingerprint) it was made under; the clock starts at the approval, `now`."""
    require_id(grant_id, "grant_id")
    return Grant(
        id=grant_id,
        request_id=request.id,
        application=request.application,
        policy=request.policy,
        user=request.user,
        kind=GrantKind.APPROVAL,
        starts_at=now,
        expires_at=now + duration,
        justification=request.justification,
        issuer=request.requester.issuer,
        subject=request.requester.subject,
        policy_fingerprint=request.policy_fingerprint,
    )


def in_force(grant: Grant | None, scope: Scope, now: datetime) -> Grant | None:
    """The grant to answer with instead of opening another: ACTIVE, not yet over, and for
    exactly `scope`. Two live grants for one person and scope would make one revocation not
    enough to end their access."""
    now = require_aware(now)
    if grant is None or grant.scope != scope or not grant.is_active(now):
        return None
    return grant


def revoke(
    grant: Grant,
    *,
    by: Identity,
    is_admin: bool,
    is_approver: bool,
    now: datetime,
    reason: str | None = None,
) -> GrantTransition:
    """End an ACTIVE grant. Admins and approvers revoke it (`grant_revoked`); the holder may end
    their own early (`grant_ended`). Both leave it REVOKED, `revoked_by` telling them apart.
    The holder is the same (issuer, subject), never just the same e-mail."""
    now = require_aware(now)
    own = grant.held_by(by)
    if not (own or is_admin or is_approver):
        raise ApprovalError(ErrorCode.NOT_ALLOWED_TO_REVOKE)
    if not grant.is_active(now):
        raise ApprovalError(ErrorCode.GRANT_NOT_ACTIVE, grant.status.value)
    why = clean_comment(reason)
    revoked = replace(
        grant,
        status=GrantStatus.REVOKED,
        revoked_by=by.user,
        revoked_at=now,
        revoke_reason=why,
        version=grant.version + 1,
    )
    kind = EventType.GRANT_ENDED if own else EventType.GRANT_REVOKED
    return GrantTransition(
        revoked, (grant_event(revoked, kind, now, actor=by.user, data={"reason": why}),)
    )


def expire_grant(grant: Grant, *, now: datetime) -> GrantTransition:
    """ACTIVE and `now >= expires_at` -> EXPIRED.

    Idempotent: a grant that is already over, or not yet due, comes back unchanged with no
    events.
    """
    now = require_aware(now)
    if grant.status is not GrantStatus.ACTIVE or now < grant.expires_at:
        return GrantTransition(grant, ())
    expired = replace(grant, status=GrantStatus.EXPIRED, version=grant.version + 1)
    event = grant_event(
        expired,
        EventType.GRANT_EXPIRED,
        now,
        actor=None,
        data={"expires_at": encode_time(grant.expires_at)},
    )
    return GrantTransition(expired, (event,))
