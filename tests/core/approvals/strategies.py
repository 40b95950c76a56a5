"""Hypothesis strategies for approval records: any well-formed request, review, grant or event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from app.core.approvals import (
    AccessRequest,
    Event,
    EventType,
    Grant,
    GrantKind,
    GrantStatus,
    Requester,
    RequestStatus,
    Review,
    ReviewDecision,
)
from app.core.approvals.emergency_records import BreakGlassState, Verdict
from app.core.context import Device

ids = st.text(min_size=1, max_size=20)
maybe_text = st.none() | st.text(max_size=40)
names = st.frozensets(st.text(min_size=1, max_size=12), max_size=4)
times = st.datetimes(
    min_value=datetime(1970, 1, 1),  # noqa: DTZ001 - the zone comes from `timezones`
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
durations = st.integers(min_value=1, max_value=400 * 86400).map(lambda s: timedelta(seconds=s))

requesters = st.builds(
    Requester,
    user=ids,
    email=st.none() | ids,
    groups=names,
    client_ip=st.none() | st.ip_addresses().map(str),
    country=st.none() | st.sampled_from(["FR", "DE", "KP"]),
    device=st.builds(Device, managed=st.booleans(), tags=names, device_id=st.none() | ids),
    user_agent=st.text(max_size=40),
    issuer=st.none() | st.text(max_size=30),
    subject=st.none() | ids,
)

reviews = st.builds(
    Review,
    reviewer=ids,
    email=st.none() | ids,
    groups=names,
    decision=st.sampled_from(ReviewDecision),
    at=times,
    comment=maybe_text,
    duration=st.none() | durations,
    via_token=st.none() | ids,
    issuer=st.none() | st.text(max_size=30),
    subject=st.none() | ids,
)


@st.composite
def access_requests(draw: st.DrawFn) -> AccessRequest:
    """A request in any status, its fields consistent with that status."""
    status = draw(st.sampled_from(RequestStatus))
    created = draw(times)
    return AccessRequest(
        id=draw(ids),
        application=draw(ids),
        policy=draw(ids),
        requester=draw(requesters),
        justification=draw(maybe_text),
        prompt=draw(maybe_text),
        requested_duration=draw(st.none() | durations),
        status=status,
        created_at=created,
        expires_at=created + draw(durations),
        reviews=tuple(draw(st.lists(reviews, max_size=4))),
        resolved_at=draw(times) if status.terminal else None,
        resolved_by=draw(st.none() | ids) if status.terminal else None,
        resolution_comment=draw(maybe_text) if status.terminal else None,
        grant_id=draw(ids) if status is RequestStatus.APPROVED else None,
        version=draw(st.integers(min_value=1, max_value=10_000)),
        policy_fingerprint=draw(st.none() | ids),
    )


#: The review state of a break-glass grant, reviewed or not, reported overdue or not.
break_glass_states = st.builds(
    BreakGlassState,
    review_due_at=times,
    verdict=st.none() | st.sampled_from(Verdict),
    reviewed_by=st.none() | ids,
    reviewed_at=st.none() | times,
    comment=maybe_text,
    overdue_at=st.none() | times,
)


@st.composite
def grants(draw: st.DrawFn) -> Grant:
    """A grant in any status and of either kind, its fields consistent with both."""
    status = draw(st.sampled_from(GrantStatus))
    kind = draw(st.sampled_from(GrantKind))
    starts = draw(times)
    revoked = status is GrantStatus.REVOKED
    return Grant(
        id=draw(ids),
        request_id=draw(ids) if kind is GrantKind.APPROVAL else None,
        application=draw(ids),
        policy=draw(ids),
        user=draw(ids),
        kind=kind,
        starts_at=starts,
        expires_at=starts + draw(durations),
        status=status,
        justification=draw(maybe_text),
        revoked_by=draw(ids) if revoked else None,
        revoked_at=draw(times) if revoked else None,
        revoke_reason=draw(maybe_text) if revoked else None,
        version=draw(st.integers(min_value=1, max_value=10_000)),
        issuer=draw(st.none() | st.text(max_size=30)),
        subject=draw(st.none() | ids),
        policy_fingerprint=draw(st.none() | ids),
        break_glass=draw(break_glass_states) if kind is GrantKind.BREAK_GLASS else None,
    )


data_values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(max_size=20)
    | st.lists(st.text(max_size=8), max_size=3).map(tuple)
)

events = st.builds(
    Event,
    type=st.sampled_from(EventType),
    at=times,
    application=ids,
    user=ids,
    actor=st.none() | ids,
    request_id=st.none() | ids,
    grant_id=st.none() | ids,
    data=st.dictionaries(st.text(max_size=12), data_values, max_size=5),
)
