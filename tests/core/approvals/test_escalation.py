"""Escalation as a pure transition: when a request becomes due, that escalating is idempotent
(so many sweeps write one event), and that fallback approvers may review (and count) only once
the request has escalated."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from app.core.approvals import (
    AccessRequest,
    ErrorCode,
    EventType,
    RequestStatus,
    review,
)
from app.core.approvals.escalation import due_at, escalate, escalated, schedule
from app.core.approvals.requesting import submit
from app.core.approvals.visibility import Onlooker, approves_anything, may_see_request
from app.core.context import Identity
from app.core.policy.emergency import Escalation
from app.core.policy.model import Application, Approver, Policy
from app.core.policy.policy_set import PolicySet
from tests.core.approvals.people import (
    ALICE_AT_DESK,
    APPROVE,
    BOB,
    GOOD_REASON,
    NOW,
    approval,
    policy,
    refused,
)

CTO = Identity(
    subject="u-cto",
    email="cto@example.com",
    groups=frozenset({"leadership"}),
    issuer="https://idp.example.com",
)
AFTER = timedelta(minutes=30)
TO_CTO = Escalation(after=AFTER, to=(Approver("email", "cto@example.com"),))
ESCALATING = policy(replace(approval(), escalation=TO_CTO))


def opened(on: Policy = ESCALATING) -> AccessRequest:
    """ALICE's request under `on`, submitted at NOW and scheduled as the service does."""
    assert on.approval is not None
    submitted = submit(
        request_id="r-1",
        application="db-console",
        policy=on,
        requester=ALICE_AT_DESK,
        justification=GOOD_REASON,
        requested_duration=None,
        now=NOW,
    )
    return schedule(submitted, on.approval).request


def test_a_request_under_an_escalating_policy_is_due_after_the_delay() -> None:
    """Scheduled at submit: due `escalate_after` from when it was made."""
    assert due_at(opened()) == NOW + AFTER


def test_a_policy_without_escalation_schedules_nothing() -> None:
    """No `escalate_after`: never due, and escalate changes nothing."""
    plain = opened(policy())
    assert plain.escalation is None
    assert due_at(plain) is None
    assert not escalate(plain, policy=policy(), now=NOW + timedelta(days=1)).changed


def test_escalating_before_it_is_due_changes_nothing() -> None:
    """A sweep a second early writes nothing."""
    result = escalate(opened(), policy=ESCALATING, now=NOW + AFTER - timedelta(seconds=1))
    assert not result.changed


def test_escalating_when_due_records_one_event_naming_the_fallback_approvers() -> None:
    """Due: the request records when it escalated, one version on, with a request_escalated
    event that names who may now review."""
    request = opened()
    result = escalate(request, policy=ESCALATING, now=NOW + AFTER)
    assert result.request.version == request.version + 1
    assert escalated(result.request)
    (event,) = result.events
    assert event.type is EventType.REQUEST_ESCALATED
    assert event.data["escalate_to"] == ("email:cto@example.com",)
    assert due_at(result.request) is None


def test_escalating_twice_writes_nothing_the_second_time() -> None:
    """Idempotent: the second replica's sweep finds it escalated and has nothing to save."""
    once = escalate(opened(), policy=ESCALATING, now=NOW + AFTER).request
    again = escalate(once, policy=ESCALATING, now=NOW + AFTER + timedelta(minutes=1))
    assert not again.changed
    assert again.request is once


def test_a_resolved_request_never_escalates() -> None:
    """A late sweep after the review changes nothing (escalation vs late review)."""
    done = review(
        opened(), reviewer=BOB, decision=APPROVE, policy=ESCALATING, now=NOW + AFTER, grant_id="g"
    )
    assert done.request.status is RequestStatus.APPROVED
    assert not escalate(done.request, policy=ESCALATING, now=NOW + 2 * AFTER).changed


def test_a_request_past_its_expiry_does_not_escalate() -> None:
    """It is the expiry sweep's, not escalation's."""
    request = opened()
    assert not escalate(request, policy=ESCALATING, now=request.expires_at).changed


def test_the_delay_runs_from_the_last_review() -> None:
    """ "No review for that long": an approval that did not complete the quorum restarts it."""
    two = policy(
        replace(
            approval(Approver("group", "sre-leads"), Approver("group", "dba-leads")),
            approvals_required=2,
            escalation=TO_CTO,
        )
    )
    reviewed = review(
        opened(two), reviewer=BOB, decision=APPROVE, policy=two, now=NOW + AFTER / 2, grant_id="g"
    ).request
    assert reviewed.status is RequestStatus.PENDING
    assert due_at(reviewed) == NOW + AFTER / 2 + AFTER


def test_a_fallback_approver_may_not_review_before_the_escalation() -> None:
    """Until it escalates the CTO is nobody's approver here."""
    with refused(ErrorCode.NOT_AN_APPROVER):
        review(opened(), reviewer=CTO, decision=APPROVE, policy=ESCALATING, now=NOW, grant_id="g")


def test_a_fallback_approver_approves_once_escalated() -> None:
    """After the escalation the CTO's approval counts toward the quorum and issues the grant."""
    up = escalate(opened(), policy=ESCALATING, now=NOW + AFTER).request
    done = review(
        up, reviewer=CTO, decision=APPROVE, policy=ESCALATING, now=NOW + AFTER, grant_id="g-9"
    )
    assert done.request.status is RequestStatus.APPROVED
    assert done.grant is not None


def test_a_fallback_approver_sees_the_request_only_once_escalated() -> None:
    """Visibility follows eligibility: "not found" before, shown after; and they have an
    inbox (escalated requests land in it)."""
    policies = _policies()
    cto = Onlooker(identity=CTO)
    request = opened()
    assert not may_see_request(cto, request, policies)
    up = escalate(request, policy=ESCALATING, now=NOW + AFTER).request
    assert may_see_request(cto, up, policies)
    assert approves_anything(cto, policies)


def test_the_escalation_survives_the_record_round_trip() -> None:
    """What a replica writes, another reads back unchanged; an older record has none."""
    up = escalate(opened(), policy=ESCALATING, now=NOW + AFTER).request
    assert AccessRequest.from_dict(up.to_dict()) == up
    old = up.to_dict()
    del old["escalation"]
    assert AccessRequest.from_dict(old).escalation is None


def _policies() -> PolicySet:
    """db-console guarded by ESCALATING alone."""
    app = Application(
        id="db-console",
        name="DB console",
        hosts=("db-console.example.com",),
        paths=("/",),
        policies=(ESCALATING,),
        source="apps/db.yaml",
    )
    return PolicySet.of([app])
