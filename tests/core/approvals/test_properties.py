"""Invariants of the request state machine, for any sequence of reviews, cancellations and
expiry checks from a pool of people: at most one terminal state, reached once and never left;
each approver counted once; version +1 per applied transition; events match the status change."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta

from hypothesis import event, given, settings
from hypothesis import strategies as st

from app.core.approvals import (
    AccessRequest,
    ApprovalError,
    ErrorCode,
    EventType,
    RequestStatus,
    RequestTransition,
    ReviewDecision,
    cancel,
    expire_request,
    review,
    tally,
)
from app.core.context import Identity
from app.core.policy.model import Approver, Policy
from tests.core.approvals.people import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    HOUR,
    MALLORY,
    NOW,
    SRE_LEADS,
    TWO_WITH_A_DBA,
    approval,
    pending,
    policy,
)

MANY = settings(max_examples=400, deadline=None)

CTO = Identity(subject="u-cto", email="cto@example.com", groups=frozenset({"execs"}))
ALICE_AS_LEAD = replace(ALICE, groups=frozenset({"engineers", "sre-leads", "dba-leads"}))
#: Approvers appear twice as often as the people who may not approve.
PEOPLE = [BOB, CAROL, DAVE, CTO] * 2 + [MALLORY, ALICE, ALICE_AS_LEAD]
THREE_OF_FOUR = policy(
    approval(
        Approver("group", "sre-leads"),
        Approver("group", "dba-leads", required=2),
        Approver("email", "cto@example.com"),
        required=3,
    )
)
POLICIES = [SRE_LEADS, TWO_WITH_A_DBA, THREE_OF_FOUR]
DURATIONS = [None, timedelta(0), timedelta(minutes=30), HOUR, 2 * HOUR, 8 * HOUR, 9 * HOUR]

#: The events each status change causes, and nothing else.
EXPECTED = {
    (RequestStatus.PENDING, RequestStatus.PENDING): [EventType.REQUEST_REVIEWED],
    (RequestStatus.PENDING, RequestStatus.APPROVED): [
        EventType.REQUEST_REVIEWED,
        EventType.REQUEST_APPROVED,
        EventType.GRANT_ISSUED,
    ],
    (RequestStatus.PENDING, RequestStatus.DENIED): [
        EventType.REQUEST_REVIEWED,
        EventType.REQUEST_DENIED,
    ],
    (RequestStatus.PENDING, RequestStatus.CANCELLED): [EventType.REQUEST_CANCELLED],
    (RequestStatus.PENDING, RequestStatus.EXPIRED): [EventType.REQUEST_EXPIRED],
}
#: Refusals a well-formed step may meet; anything else is a bug.
EXPECTED_REFUSALS = {
    ErrorCode.SELF_APPROVAL,
    ErrorCode.NOT_AN_APPROVER,
    ErrorCode.NOT_YOUR_REQUEST,
    ErrorCode.REQUEST_NOT_PENDING,
    ErrorCode.REQUEST_EXPIRED,
    ErrorCode.DURATION_TOO_LONG,
    ErrorCode.DURATION_NOT_POSITIVE,
}


@dataclass(frozen=True)
class Step:
    """One thing someone tries, `after` the previous step."""

    action: str  # approve | deny | cancel | expire
    who: Identity
    after: timedelta
    duration: timedelta | None


steps = st.builds(
    Step,
    action=st.sampled_from(["approve"] * 6 + ["deny", "cancel", "expire"]),
    who=st.sampled_from(PEOPLE),
    after=st.integers(min_value=0, max_value=6 * 60).map(lambda m: timedelta(minutes=m)),
    duration=st.sampled_from(DURATIONS),
)


def attempt(
    request: AccessRequest, step: Step, on: Policy, n: int, now: object
) -> RequestTransition:
    """Apply one step to `request`."""
    if step.action == "cancel":
        return cancel(request, by=step.who, now=now)  # type: ignore[arg-type]
    if step.action == "expire":
        return expire_request(request, now=now)  # type: ignore[arg-type]
    decision = ReviewDecision.APPROVE if step.action == "approve" else ReviewDecision.DENY
    return review(
        request,
        reviewer=step.who,
        decision=decision,
        policy=on,
        now=now,  # type: ignore[arg-type]
        grant_id=f"g-{n}",
        duration=step.duration,
    )


def outcome(
    request: AccessRequest, step: Step, on: Policy, n: int, now: object
) -> RequestTransition | ApprovalError:
    """The transition a step makes, or the refusal it meets."""
    try:
        return attempt(request, step, on, n, now)
    except ApprovalError as refused:
        return refused


@MANY
@given(on=st.sampled_from(POLICIES), plan=st.lists(steps, max_size=14))
def test_request_state_machine_invariants(on: Policy, plan: list[Step]) -> None:
    """Any sequence of steps keeps every invariant of the request state machine."""
    request = pending(on)
    now = NOW
    terminal_changes = 0
    for n, step in enumerate(plan):
        now += step.after
        before = request
        done = outcome(before, step, on, n, now)
        if isinstance(done, ApprovalError):
            assert done.code in EXPECTED_REFUSALS, done
            continue
        if not done.changed:
            assert done.request is before
            assert done.grant is None
            continue
        assert before.status is RequestStatus.PENDING, "a terminal state changed"
        assert done.request.version == before.version + 1
        assert [e.type for e in done.events] == EXPECTED[(before.status, done.request.status)]
        assert all(e.request_id == before.id for e in done.events)
        assert (done.grant is not None) == (done.request.status is RequestStatus.APPROVED)
        terminal_changes += done.request.status.terminal
        request = done.request

    event(f"ends {request.status.value}")
    assert terminal_changes <= 1
    assert on.approval is not None
    approvals = Counter(r.reviewer for r in request.reviews if r.decision is ReviewDecision.APPROVE)
    assert all(count == 1 for count in approvals.values()), "an approver counted twice"
    assert ALICE.user not in {r.reviewer for r in request.reviews}, "self-review recorded"
    assert all(
        on.approval.is_approver(Identity(r.reviewer, r.email, r.groups)) for r in request.reviews
    )
    met = tally(request.reviews, on.approval).met
    if request.status is RequestStatus.PENDING:
        assert not met
    if request.status is RequestStatus.APPROVED:
        assert met


@MANY
@given(plan=st.lists(steps, max_size=14))
def test_approved_grant_lasts_the_shortest_counted_duration(plan: list[Step]) -> None:
    """Whenever a grant is issued, it lasts the minimum duration the counted approvers chose."""
    on = TWO_WITH_A_DBA
    assert on.approval is not None
    request = pending(on)
    now = NOW
    for n, step in enumerate(plan):
        now += step.after
        done = outcome(request, step, on, n, now)
        if isinstance(done, ApprovalError):
            continue
        request = done.request
        if done.grant is not None:
            chosen = [r.duration for r in request.reviews if r.decision is ReviewDecision.APPROVE]
            assert done.grant.starts_at == now
            assert done.grant.expires_at - done.grant.starts_at == min(d for d in chosen if d)
            assert done.grant.expires_at - done.grant.starts_at <= on.approval.max_duration
