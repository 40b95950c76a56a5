"""Planned windows: a request may ask for access from a later `starts_at` (a maintenance at
22:00 for 2 h). The grant it leads to starts then, not at the approval, and ends at the
window's end; until then it is live but upcoming (Grant.upcoming), and forward-auth answers
`grant-upcoming` instead of letting the person in.

These wrap the plain transitions (requesting.submit, reviewing.review) so the approval rules
stay in one place: same reviewers, same quorum, same durations.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from app.core.approvals.checks import require_aware
from app.core.approvals.codec import encode_seconds, encode_time
from app.core.approvals.errors import ApprovalError, ErrorCode
from app.core.approvals.events import Event, EventType, RequestTransition
from app.core.approvals.grant import Grant
from app.core.approvals.granting import grant_event
from app.core.approvals.request import AccessRequest
from app.core.durations import in_words
from app.core.policy.model import Approval


def check_start(starts_at: datetime, *, approval: Approval, now: datetime) -> datetime:
    """A requested start in UTC: not in the past, not beyond the policy's `starts_within`.

    A naive `starts_at` is a programming error here (the API and pages refuse one first).
    """
    now = require_aware(now)
    start = require_aware(starts_at)
    if start < now:
        raise ApprovalError(ErrorCode.START_IN_PAST, encode_time(start))
    if start - now > approval.start_horizon:
        limit = in_words(approval.start_horizon)
        raise ApprovalError(ErrorCode.START_TOO_FAR_AHEAD, f"at most {limit} ahead")
    return start


def plan(
    submitted: RequestTransition,
    *,
    starts_at: datetime | None,
    approval: Approval,
    now: datetime,
) -> RequestTransition:
    """`submitted` (a fresh request from `submit`) for a window from `starts_at`.

    The window is `starts_at` plus the requested duration (else the policy's default), which
    `submit` has already held to `max_duration`. The request stops waiting when its window is
    over, if `pending_ttl` has not ended it before. An unchanged transition (the open request
    asked for again) and `starts_at=None` pass through as they are.
    """
    if starts_at is None or not submitted.changed:
        return submitted
    start = check_start(starts_at, approval=approval, now=now)
    request = submitted.request
    end = start + (request.requested_duration or approval.default_duration)
    planned = replace(request, starts_at=start, expires_at=min(request.expires_at, end))
    window = {
        "starts_at": encode_time(start),
        "window_ends_at": encode_time(end),
        "expires_at": encode_time(planned.expires_at),
    }
    events = tuple(
        replace(e, data={**e.data, **window}) if e.type is EventType.REQUEST_SUBMITTED else e
        for e in submitted.events
    )
    return RequestTransition(planned, events, submitted.grant)


def in_window(reviewed: RequestTransition, *, now: datetime) -> RequestTransition:
    """`reviewed` (from `review`), with the grant it issued moved into the request's window.

    The approver's duration is the window's length from `starts_at`: approved before the
    start, the grant is upcoming until then; approved late, it runs from `now` to the same
    end; approved after the end, the approval is refused (`window-over`) and nothing changes.
    """
    request, grant = reviewed.request, reviewed.grant
    if grant is None or request.starts_at is None:
        return reviewed
    now = require_aware(now)
    end = request.starts_at + (grant.expires_at - grant.starts_at)
    if end <= now:
        raise ApprovalError(ErrorCode.WINDOW_OVER, encode_time(end))
    planned = replace(grant, starts_at=max(request.starts_at, now), expires_at=end)
    events = tuple(_issued(planned, e, now) for e in reviewed.events)
    return RequestTransition(request, events, planned)


def _issued(grant: Grant, event: Event, now: datetime) -> Event:
    # The `grant_issued` entry is written at the approval; its data say when the window is.
    if event.type is not EventType.GRANT_ISSUED:
        return event
    return grant_event(
        grant,
        EventType.GRANT_ISSUED,
        now,
        actor=event.actor,
        data={
            "kind": grant.kind.value,
            "policy": grant.policy,
            "starts_at": encode_time(grant.starts_at),
            "expires_at": encode_time(grant.expires_at),
            "duration": encode_seconds(grant.expires_at - grant.starts_at),
            "planned": True,
        },
    )


def window_of(request: AccessRequest, approval: Approval) -> tuple[datetime, datetime] | None:
    """The window a planned request asks for (start, end), for pages and messages."""
    if request.starts_at is None:
        return None
    length = request.requested_duration or approval.default_duration
    return request.starts_at, request.starts_at + length
