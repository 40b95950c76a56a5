"""Planned windows in the core: a request may ask for access from a later `starts_at`; the
grant it leads to is upcoming until then and ends at the window's end, to the second."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from app.core.approvals import (
    ErrorCode,
    EventType,
    GrantStatus,
    RequestTransition,
    review,
    revoke,
    submit,
)
from app.core.approvals.windows import check_start, in_window, plan
from app.core.decision import Decision, Effect, GrantState
from app.core.policy.evaluate import Selection, decide
from app.core.policy.model import Application
from app.core.reasons import Reason
from tests.core.approvals.people import (
    ALICE_AT_DESK,
    APPROVE,
    BOB,
    GOOD_REASON,
    HOUR,
    NOW,
    SRE_LEADS,
    approval,
    refused,
)
from tests.core.personas import ALICE
from tests.core.personas import request as attempt

TONIGHT = NOW + 10 * HOUR
BLOCK = SRE_LEADS.approval
assert BLOCK is not None


def planned(
    starts_at: datetime = TONIGHT, *, requested: timedelta | None = 2 * HOUR
) -> RequestTransition:
    """ALICE asks at NOW for the window from `starts_at`."""
    return plan(
        submit(
            request_id="r-1",
            application="db-console",
            policy=SRE_LEADS,
            requester=ALICE_AT_DESK,
            justification=GOOD_REASON,
            requested_duration=requested,
            now=NOW,
        ),
        starts_at=starts_at,
        approval=BLOCK,
        now=NOW,
    )


def approve_at(moment: datetime, *, duration: timedelta | None = None) -> RequestTransition:
    """BOB approves the planned request at `moment`."""
    return in_window(
        review(
            planned().request,
            reviewer=BOB,
            decision=APPROVE,
            policy=SRE_LEADS,
            now=moment,
            grant_id="g-1",
            duration=duration,
        ),
        now=moment,
    )


def test_a_start_in_the_past_is_refused() -> None:
    """A window that would have begun already is `start-in-past`."""
    with refused(ErrorCode.START_IN_PAST):
        check_start(NOW - timedelta(seconds=1), approval=BLOCK, now=NOW)


def test_a_start_beyond_the_policy_horizon_is_refused() -> None:
    """Further ahead than `starts_within` (default 7 days) is `start-too-far-ahead`."""
    check_start(NOW + timedelta(days=7), approval=BLOCK, now=NOW)
    with refused(ErrorCode.START_TOO_FAR_AHEAD):
        check_start(NOW + timedelta(days=7, seconds=1), approval=BLOCK, now=NOW)
    near = approval(pending_ttl=HOUR)
    near = replace(near, starts_within=timedelta(hours=12))
    with refused(ErrorCode.START_TOO_FAR_AHEAD):
        check_start(NOW + 13 * HOUR, approval=near, now=NOW)


def test_a_naive_start_is_a_programming_error() -> None:
    """The core never guesses a time zone: naive datetimes are refused before any rule."""
    with pytest.raises(ValueError, match="timezone-aware"):
        check_start(TONIGHT.replace(tzinfo=None), approval=BLOCK, now=NOW)


def test_a_window_longer_than_max_duration_is_refused() -> None:
    """The window's length is the requested duration, held to the policy's `max_duration`."""
    with refused(ErrorCode.DURATION_TOO_LONG):
        planned(requested=9 * HOUR)


def test_a_planned_request_records_its_start_and_waits_no_longer_than_its_window() -> None:
    """The request keeps `starts_at`; it expires at the window's end if `pending_ttl` is later,
    and its submitted event says when the window is."""
    done = planned(NOW + HOUR)
    assert done.request.starts_at == NOW + HOUR
    assert done.request.expires_at == NOW + 3 * HOUR  # window end, before the 24 h pending_ttl
    submitted = done.events[0]
    assert submitted.type is EventType.REQUEST_SUBMITTED
    assert submitted.data["starts_at"] == "2024-05-06T11:00:00Z"
    assert submitted.data["window_ends_at"] == "2024-05-06T13:00:00Z"


def test_a_planned_request_survives_its_record_round_trip() -> None:
    """`starts_at` is stored and read back; older records without it read as None."""
    request = planned().request
    body = request.to_dict()
    assert type(request).from_dict(body) == request
    del body["starts_at"], body["extends"]
    assert type(request).from_dict(body).starts_at is None


def test_approved_before_the_start_the_grant_is_upcoming_until_the_window() -> None:
    """Approved at NOW + 1 h for tonight: the grant runs from the window's start to its end."""
    done = approve_at(NOW + HOUR)
    assert done.grant is not None
    assert (done.grant.starts_at, done.grant.expires_at) == (TONIGHT, TONIGHT + 2 * HOUR)
    assert done.grant.upcoming(TONIGHT - timedelta(seconds=1))
    assert not done.grant.upcoming(TONIGHT)
    issued = [e for e in done.events if e.type is EventType.GRANT_ISSUED]
    assert issued[0].at == NOW + HOUR  # recorded when approved, not in the future
    assert issued[0].data["planned"] is True


def test_approved_late_the_grant_starts_now_and_ends_with_the_window() -> None:
    """Approved half an hour into the window: access from then until the window's end."""
    done = approve_at(TONIGHT + HOUR / 2)
    assert done.grant is not None
    assert (done.grant.starts_at, done.grant.expires_at) == (
        TONIGHT + HOUR / 2,
        TONIGHT + 2 * HOUR,
    )


def test_an_approval_that_would_end_the_window_before_it_is_given_is_refused() -> None:
    """A duration the approver shortened so far that the window is already over: `window-over`."""
    with refused(ErrorCode.WINDOW_OVER):
        approve_at(TONIGHT + HOUR, duration=HOUR)


CONSOLE = Application(
    id="db-console",
    name="DB",
    hosts=("db.example.com",),
    paths=("/",),
    policies=(SRE_LEADS,),
    source="apps/db.yaml",
)


def decision_at(moment: datetime, state: GrantState) -> Decision:
    """The decision for ALICE on the console at `moment`, its approval policy matched, with
    `state` as the store reports it."""
    selection = Selection(CONSOLE, SRE_LEADS, ())
    return decide(selection, attempt(ALICE, host="db.example.com"), grants=state, now=moment)


@pytest.mark.parametrize(
    ("offset", "effect", "reason"),
    [
        (timedelta(seconds=-1), Effect.NEEDS_APPROVAL, Reason.GRANT_UPCOMING),
        (timedelta(0), Effect.ALLOW, Reason.GRANT_ACTIVE),
        (2 * HOUR - timedelta(seconds=1), Effect.ALLOW, Reason.GRANT_ACTIVE),
        (2 * HOUR, Effect.NEEDS_APPROVAL, Reason.APPROVAL_REQUIRED),
    ],
)
def test_forward_auth_honours_the_window_to_the_second(
    offset: timedelta, effect: Effect, reason: Reason
) -> None:
    """One second before the start: not in, `grant-upcoming`; from the start second until the
    second before the end: in; at the end: out."""
    state = GrantState(
        grant_expires_at=TONIGHT + 2 * HOUR,
        grant_id="g-1",
        policy=SRE_LEADS.fingerprint,
        grant_starts_at=TONIGHT,
    )
    decision = decision_at(TONIGHT + offset, state)
    assert decision.effect is effect
    assert decision.reasons[0] is reason


def test_an_upcoming_grant_is_live_so_it_can_be_revoked() -> None:
    """Revoking a planned window before it begins leaves it REVOKED."""
    done = approve_at(NOW + HOUR)
    assert done.grant is not None
    ended = revoke(done.grant, by=BOB, is_admin=False, is_approver=True, now=NOW + 2 * HOUR)
    assert ended.grant.status is GrantStatus.REVOKED
