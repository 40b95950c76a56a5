"""Opening and closing access requests: submit, reuse the open one, cancel, expire.

Identifiers come from the caller (the store makes them); time is the `now` argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from app.core.approvals.checks import (
    check_duration,
    clean_justification,
    require_aware,
    require_id,
)
from app.core.approvals.codec import encode_seconds, encode_time
from app.core.approvals.errors import ApprovalError, ErrorCode
from app.core.approvals.events import DataValue, Event, EventType, RequestTransition
from app.core.approvals.request import AccessRequest, Requester, RequestStatus
from app.core.context import Identity
from app.core.policy.model import Policy


def signals(requester: Requester) -> dict[str, DataValue]:
    """The context of an ask, as event data: where from, on what device, with what browser."""
    return {
        "client_ip": requester.client_ip,
        "country": requester.country,
        "device_managed": requester.device.managed,
        "device_id": requester.device.device_id,
        "device_tags": tuple(sorted(requester.device.tags)),
        "user_agent": requester.user_agent,
    }


def submit(
    *,
    request_id: str,
    application: str,
    policy: Policy,
    requester: Requester,
    justification: str | None,
    requested_duration: timedelta | None,
    now: datetime,
) -> RequestTransition:
    """Open a PENDING request that expires after the policy's `pending_ttl`."""
    now = require_aware(now)
    require_id(request_id, "request_id")
    require_id(application, "application")
    require_id(policy.fingerprint, "policy fingerprint")
    approval = policy.approval
    if approval is None:
        raise ApprovalError(ErrorCode.POLICY_NEEDS_NO_APPROVAL, policy.name)
    text = clean_justification(justification, policy.justification)
    if requested_duration is not None:
        check_duration(requested_duration, approval)
    prompt = policy.justification.prompt if policy.justification is not None else None
    request = AccessRequest(
        id=request_id,
        application=application,
        policy=policy.name,
        requester=requester,
        justification=text,
        prompt=prompt,
        requested_duration=requested_duration,
        status=RequestStatus.PENDING,
        created_at=now,
        expires_at=now + approval.pending_ttl,
        policy_fingerprint=policy.fingerprint,
    )
    submitted = request_event(
        request,
        EventType.REQUEST_SUBMITTED,
        now,
        actor=requester.user,
        data={
            "policy": policy.name,
            "expires_at": encode_time(request.expires_at),
            "requested_duration": encode_seconds(requested_duration),
            **signals(requester),
        },
    )
    if text is None:
        return RequestTransition(request, (submitted,))
    recorded = request_event(
        request,
        EventType.JUSTIFICATION_RECORDED,
        now,
        actor=requester.user,
        data={"policy": policy.name, "justification": text, "prompt": prompt},
    )
    return RequestTransition(request, (submitted, recorded))


def reuse_open(existing: AccessRequest | None, now: datetime) -> AccessRequest | None:
    """The open request to return instead of a new one: still PENDING and not yet due."""
    now = require_aware(now)
    if existing is None or existing.status is not RequestStatus.PENDING:
        return None
    return existing if now < existing.expires_at else None


def ensure_pending(request: AccessRequest, now: datetime) -> None:
    """Refuse to act on a resolved request, or on one whose time is up but not yet expired.

    A request past `expires_at` is refused with `request-expired` rather than expired here:
    one call, one transition. The caller then applies `expire_request` and saves that.
    """
    if request.status is not RequestStatus.PENDING:
        raise ApprovalError(ErrorCode.REQUEST_NOT_PENDING, request.status.value)
    if now >= request.expires_at:
        raise ApprovalError(ErrorCode.REQUEST_EXPIRED, encode_time(request.expires_at))


def cancel(request: AccessRequest, *, by: Identity, now: datetime) -> RequestTransition:
    """The requester (the same issuer and subject) withdraws a PENDING request; nobody else may."""
    now = require_aware(now)
    if not request.requester.is_requester(by):
        raise ApprovalError(ErrorCode.NOT_YOUR_REQUEST)
    ensure_pending(request, now)
    cancelled = resolve(request, RequestStatus.CANCELLED, at=now, by=by.user)
    event = request_event(cancelled, EventType.REQUEST_CANCELLED, now, actor=by.user)
    return RequestTransition(cancelled, (event,))


def expire_request(request: AccessRequest, *, now: datetime) -> RequestTransition:
    """PENDING and `now >= expires_at` -> EXPIRED, resolved at `expires_at`.

    Idempotent: a request that is resolved, or not yet due, comes back unchanged with no
    events, so a sweeper racing a reviewer has nothing to handle.
    """
    now = require_aware(now)
    if request.status is not RequestStatus.PENDING or now < request.expires_at:
        return RequestTransition(request, ())
    expired = resolve(request, RequestStatus.EXPIRED, at=request.expires_at, by=None)
    event = request_event(
        expired,
        EventType.REQUEST_EXPIRED,
        now,
        data={"expires_at": encode_time(request.expires_at)},
    )
    return RequestTransition(expired, (event,))


def resolve(
    request: AccessRequest,
    status: RequestStatus,
    *,
    at: datetime,
    by: str | None,
    comment: str | None = None,
    grant_id: str | None = None,
) -> AccessRequest:
    """The request in a terminal status, one version on."""
    return replace(
        request,
        status=status,
        resolved_at=at,
        resolved_by=by,
        resolution_comment=comment,
        grant_id=grant_id,
        version=request.version + 1,
    )


def request_event(
    request: AccessRequest,
    kind: EventType,
    at: datetime,
    *,
    actor: str | None = None,
    grant_id: str | None = None,
    data: Mapping[str, DataValue] | None = None,
) -> Event:
    """An event about `request`."""
    return Event(
        type=kind,
        at=at,
        application=request.application,
        user=request.user,
        actor=actor,
        request_id=request.id,
        grant_id=grant_id,
        data=data or {},
    )
