"""Ending a request without a decision: the requester cancels it, or its time runs out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.approvals import (
    ErrorCode,
    EventType,
    RequestStatus,
    cancel,
    expire_request,
)
from tests.core.approvals.people import ALICE, BOB, HOUR, MALLORY, NOW, approved, pending, refused


def test_requester_cancels_a_pending_request() -> None:
    """ALICE withdraws her request: CANCELLED, resolved by her, one version on."""
    done = cancel(pending(), by=ALICE, now=NOW + HOUR)
    assert done.request.status is RequestStatus.CANCELLED
    assert (done.request.resolved_at, done.request.resolved_by, done.request.version) == (
        NOW + HOUR,
        ALICE.user,
        2,
    )
    assert [e.type for e in done.events] == [EventType.REQUEST_CANCELLED]


@pytest.mark.parametrize("someone", [BOB, MALLORY])
def test_others_cannot_cancel(someone: object) -> None:
    """Neither an approver nor a stranger may cancel ALICE's request."""
    with refused(ErrorCode.NOT_YOUR_REQUEST):
        cancel(pending(), by=someone, now=NOW)  # type: ignore[arg-type]


def test_cancelling_a_resolved_request_is_refused() -> None:
    """An approved request cannot be cancelled (end the grant instead)."""
    request, _ = approved()
    with refused(ErrorCode.REQUEST_NOT_PENDING):
        cancel(request, by=ALICE, now=NOW + HOUR)


def test_cancelling_twice_is_refused() -> None:
    """A cancelled request is terminal; cancelling again is a conflict."""
    gone = cancel(pending(), by=ALICE, now=NOW).request
    with refused(ErrorCode.REQUEST_NOT_PENDING):
        cancel(gone, by=ALICE, now=NOW)


def test_cancelling_a_request_past_its_expiry_is_refused() -> None:
    """Once due, the request is expired, not cancelled."""
    request = pending()
    with refused(ErrorCode.REQUEST_EXPIRED):
        cancel(request, by=ALICE, now=request.expires_at)


def test_request_expires_at_exactly_expires_at() -> None:
    """At expires_at a pending request becomes EXPIRED with request_expired."""
    request = pending()
    done = expire_request(request, now=request.expires_at)
    assert done.request.status is RequestStatus.EXPIRED
    assert (done.request.version, done.request.resolved_by) == (2, None)
    assert [e.type for e in done.events] == [EventType.REQUEST_EXPIRED]
    assert done.events[0].actor is None


def test_request_is_not_expired_a_second_before() -> None:
    """One second before expires_at nothing happens: same request, no events."""
    request = pending()
    done = expire_request(request, now=request.expires_at - timedelta(seconds=1))
    assert (done.request, done.events, done.changed) == (request, (), False)


def test_late_expiry_is_resolved_at_expires_at() -> None:
    """A sweeper running late records the request as ended at its expiry; the event has now."""
    request = pending()
    done = expire_request(request, now=request.expires_at + HOUR)
    assert done.request.resolved_at == request.expires_at
    assert done.events[0].at == request.expires_at + HOUR


def test_expiring_a_resolved_request_is_a_no_op() -> None:
    """A sweeper racing a reviewer finds nothing to do on an approved request."""
    request, _ = approved()
    done = expire_request(request, now=request.expires_at + HOUR)
    assert (done.request, done.changed) == (request, False)


def test_expire_request_refuses_a_naive_now() -> None:
    """A clock value without a time zone is a programming error."""
    with pytest.raises(ValueError, match="timezone-aware"):
        expire_request(pending(), now=NOW.replace(tzinfo=None))
