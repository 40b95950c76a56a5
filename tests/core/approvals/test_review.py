"""Applying reviews: who may review, N of M distinct approvers, per-group counts, durations,
and a resolved request that ignores everything after."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from app.core.approvals import (
    ErrorCode,
    EventType,
    GrantKind,
    GrantStatus,
    RequestStatus,
    review,
)
from app.core.approvals.events import RequestTransition
from app.core.approvals.request import AccessRequest, ReviewDecision
from app.core.context import Identity
from app.core.policy.model import Approver, Policy
from tests.core.approvals.people import (
    ALICE,
    APPROVE,
    BOB,
    CAROL,
    DAVE,
    DENY,
    HOUR,
    MALLORY,
    NOW,
    SRE_LEADS,
    TWO_WITH_A_DBA,
    approval,
    approved,
    pending,
    policy,
    refused,
)

LATER = NOW + timedelta(minutes=30)
CTO = Identity(subject="u-cto", email="cto@example.com", groups=frozenset({"execs"}))
#: One approval from an SRE lead or a DBA lead.
EITHER = policy(approval(Approver("group", "sre-leads"), Approver("group", "dba-leads")))


def by(
    reviewer: Identity,
    request: AccessRequest,
    decision: ReviewDecision = APPROVE,
    *,
    on: Policy = SRE_LEADS,
    now: object = LATER,
    **extra: object,
) -> RequestTransition:
    """`reviewer` reviews `request` under `on` at LATER, issuing grant g-1 if it completes."""
    return review(
        request,
        reviewer=reviewer,
        decision=decision,
        policy=on,
        now=now,  # type: ignore[arg-type]
        grant_id="g-1",
        **extra,  # type: ignore[arg-type]
    )


# -- who may review ------------------------------------------------------------------------------


def test_requester_cannot_approve_their_own_request() -> None:
    """ALICE, even as an SRE lead, may not approve her own request."""
    alice_lead = replace(ALICE, groups=frozenset({"engineers", "sre-leads"}))
    with refused(ErrorCode.SELF_APPROVAL):
        by(alice_lead, pending())


def test_requester_cannot_deny_their_own_request_either() -> None:
    """Self-review is refused for both decisions; the requester cancels instead."""
    alice_lead = replace(ALICE, groups=frozenset({"sre-leads"}))
    with refused(ErrorCode.SELF_APPROVAL):
        by(alice_lead, pending(), DENY)


def test_self_approval_through_a_service_token_is_refused() -> None:
    """A service token acting for the requester is still the requester."""
    alice_lead = replace(ALICE, groups=frozenset({"sre-leads"}))
    with refused(ErrorCode.SELF_APPROVAL):
        by(alice_lead, pending(), acting_token="st-ci-bot")


def test_self_approval_under_another_subject_with_the_same_email_is_refused() -> None:
    """The same email from another issuer is the same person."""
    twin = Identity(subject="other", email="ALICE@example.com", groups=frozenset({"sre-leads"}))
    with refused(ErrorCode.SELF_APPROVAL):
        by(twin, pending())


def test_reviewer_not_listed_by_the_policy_is_refused() -> None:
    """MALLORY is no approver; her approval is refused and records nothing."""
    with refused(ErrorCode.NOT_AN_APPROVER):
        by(MALLORY, pending())


def test_ineligible_deny_is_refused_too() -> None:
    """Only listed approvers may deny; CAROL is no SRE lead."""
    with refused(ErrorCode.NOT_AN_APPROVER):
        by(CAROL, pending(), DENY)


def test_approver_listed_by_email_may_review() -> None:
    """An email entry makes that one person an approver."""
    on = policy(approval(Approver("email", "cto@example.com")))
    assert by(CTO, pending(on), on=on).request.status is RequestStatus.APPROVED


def test_policy_with_another_name_cannot_judge_the_request() -> None:
    """A renamed policy does not judge requests made under the old name."""
    with refused(ErrorCode.POLICY_MISMATCH):
        by(BOB, pending(), on=replace(SRE_LEADS, name="renamed"))


def test_policy_that_lost_its_approval_block_cannot_judge_the_request() -> None:
    """If the policy no longer asks for approval, reviews are refused."""
    with refused(ErrorCode.POLICY_NEEDS_NO_APPROVAL):
        by(BOB, pending(), on=replace(SRE_LEADS, approval=None))


# -- approving -----------------------------------------------------------------------------------


def test_one_eligible_approval_approves_and_issues_a_grant() -> None:
    """With one approval required, BOB's approval resolves the request and issues the grant."""
    done = by(BOB, pending())
    assert done.request.status is RequestStatus.APPROVED
    assert done.grant is not None
    assert (done.grant.id, done.grant.kind, done.grant.status) == (
        "g-1",
        GrantKind.APPROVAL,
        GrantStatus.ACTIVE,
    )
    assert (done.request.grant_id, done.request.resolved_by) == ("g-1", BOB.user)


def test_approval_emits_reviewed_approved_and_grant_issued() -> None:
    """Completing the quorum causes three events, in order."""
    assert [e.type for e in by(BOB, pending()).events] == [
        EventType.REQUEST_REVIEWED,
        EventType.REQUEST_APPROVED,
        EventType.GRANT_ISSUED,
    ]


def test_grant_clock_starts_at_approval() -> None:
    """The grant runs from the approving review, not from the submission."""
    _, grant = approved()
    assert (grant.starts_at, grant.expires_at) == (
        NOW + timedelta(minutes=5),
        NOW + timedelta(minutes=5) + HOUR,
    )


def test_default_duration_is_used_when_none_is_chosen() -> None:
    """Without a chosen or requested duration the policy's default applies."""
    on = policy(approval(default=2 * HOUR))
    done = by(BOB, pending(on), on=on)
    assert done.grant is not None
    assert done.grant.expires_at == LATER + 2 * HOUR


def test_requested_duration_is_used_when_the_approver_chooses_none() -> None:
    """An approver who picks no duration grants what the requester asked for."""
    done = by(BOB, pending(requested=3 * HOUR))
    assert done.grant is not None
    assert done.grant.expires_at == LATER + 3 * HOUR


def test_approver_may_choose_a_shorter_duration() -> None:
    """The approver's duration overrides the request's."""
    done = by(BOB, pending(requested=3 * HOUR), duration=timedelta(minutes=20))
    assert done.grant is not None
    assert done.grant.expires_at == LATER + timedelta(minutes=20)


def test_approver_duration_over_max_is_refused() -> None:
    """An approver may never exceed max_duration."""
    with refused(ErrorCode.DURATION_TOO_LONG):
        by(BOB, pending(), duration=9 * HOUR)


@pytest.mark.parametrize("bad", [timedelta(0), -HOUR])
def test_approver_duration_must_be_positive(bad: timedelta) -> None:
    """Zero and negative durations are refused."""
    with refused(ErrorCode.DURATION_NOT_POSITIVE):
        by(BOB, pending(), duration=bad)


def test_two_of_n_needs_two_distinct_approvers() -> None:
    """Under 2-of-N one approval keeps the request PENDING; a second approver approves it."""
    first = by(CAROL, pending(TWO_WITH_A_DBA), on=TWO_WITH_A_DBA)
    assert first.request.status is RequestStatus.PENDING
    assert first.grant is None
    assert [e.type for e in first.events] == [EventType.REQUEST_REVIEWED]
    assert (first.events[0].data["approvals"], first.events[0].data["approvals_required"]) == (
        1,
        2,
    )
    second = by(BOB, first.request, on=TWO_WITH_A_DBA, now=LATER + HOUR)
    assert second.request.status is RequestStatus.APPROVED


def test_same_approver_twice_counts_once() -> None:
    """A repeated approval is a no-op: same request, same version, no events."""
    first = by(CAROL, pending(TWO_WITH_A_DBA), on=TWO_WITH_A_DBA)
    again = by(CAROL, first.request, on=TWO_WITH_A_DBA, now=LATER + HOUR)
    assert again.request is first.request
    assert (again.events, again.changed) == ((), False)
    assert again.request.status is RequestStatus.PENDING


def test_per_group_count_must_be_met_even_with_enough_approvers() -> None:
    """BOB and the CTO make two, but the DBA leads' one is missing: still PENDING."""
    first = by(BOB, pending(TWO_WITH_A_DBA), on=TWO_WITH_A_DBA)
    second = by(CTO, first.request, on=TWO_WITH_A_DBA)
    assert second.request.status is RequestStatus.PENDING


def test_per_group_count_met_completes_the_quorum() -> None:
    """BOB then DAVE (a DBA lead) make two with the DBA lead's one: APPROVED."""
    first = by(BOB, pending(TWO_WITH_A_DBA), on=TWO_WITH_A_DBA)
    second = by(DAVE, first.request, on=TWO_WITH_A_DBA)
    assert second.request.status is RequestStatus.APPROVED


def test_per_group_count_of_two_needs_two_from_that_group() -> None:
    """With `required: 2` on DBA leads, BOB and CAROL are not enough; DAVE completes it."""
    on = policy(
        approval(
            Approver("group", "sre-leads"),
            Approver("group", "dba-leads", required=2),
            required=2,
        )
    )
    step = by(CAROL, pending(on), on=on)
    step = by(BOB, step.request, on=on)
    assert step.request.status is RequestStatus.PENDING
    assert by(DAVE, step.request, on=on).request.status is RequestStatus.APPROVED


def test_quorum_grants_the_shortest_duration_chosen() -> None:
    """The grant lasts the minimum of the counted approvers' durations."""
    first = by(CAROL, pending(TWO_WITH_A_DBA), on=TWO_WITH_A_DBA, duration=2 * HOUR)
    second = by(BOB, first.request, on=TWO_WITH_A_DBA, duration=6 * HOUR)
    assert second.grant is not None
    assert second.grant.expires_at - second.grant.starts_at == 2 * HOUR


def test_approval_via_service_token_records_token_and_human() -> None:
    """A review through a service token names both the token and the person it acts for."""
    done = by(BOB, pending(), acting_token="st-slack-bot")
    (record,) = done.request.reviews
    assert (record.reviewer, record.via_token) == (BOB.user, "st-slack-bot")
    assert done.events[0].data["via_token"] == "st-slack-bot"


def test_review_records_a_snapshot_of_the_reviewer() -> None:
    """Each review keeps the reviewer's email, groups, comment, time and duration."""
    done = by(BOB, pending(), comment="ok for INC-4711", duration=HOUR)
    (record,) = done.request.reviews
    assert (record.email, record.groups, record.comment, record.at, record.duration) == (
        BOB.email,
        BOB.groups,
        "ok for INC-4711",
        LATER,
        HOUR,
    )


# -- denying -------------------------------------------------------------------------------------


def test_any_eligible_deny_ends_the_request() -> None:
    """Under 2-of-N, one approval then one deny: DENIED, no grant."""
    first = by(BOB, pending(TWO_WITH_A_DBA), on=TWO_WITH_A_DBA)
    done = by(CAROL, first.request, DENY, on=TWO_WITH_A_DBA, comment="not during the freeze")
    assert done.request.status is RequestStatus.DENIED
    assert done.grant is None
    assert (done.request.resolved_by, done.request.resolution_comment) == (
        CAROL.user,
        "not during the freeze",
    )
    assert [e.type for e in done.events] == [EventType.REQUEST_REVIEWED, EventType.REQUEST_DENIED]


def test_approver_may_change_their_mind_to_deny() -> None:
    """An approver whose approval is recorded may still deny, which ends the request."""
    first = by(BOB, pending(TWO_WITH_A_DBA), on=TWO_WITH_A_DBA)
    assert by(BOB, first.request, DENY, on=TWO_WITH_A_DBA).request.status is RequestStatus.DENIED


# -- resolved or due requests ------------------------------------------------------------------


@pytest.mark.parametrize("decision", [APPROVE, DENY])
def test_reviewing_a_resolved_request_is_refused_and_changes_nothing(
    decision: ReviewDecision,
) -> None:
    """After BOB approves, CAROL's late review raises request-not-pending; nothing changes."""
    request = by(BOB, pending(EITHER), on=EITHER).request
    snapshot = request.to_dict()
    with refused(ErrorCode.REQUEST_NOT_PENDING):
        by(CAROL, request, decision, on=EITHER)
    assert request.to_dict() == snapshot


def test_reviewing_a_denied_request_is_refused() -> None:
    """A denied request ignores a later approval."""
    denied = by(CAROL, pending(EITHER), DENY, on=EITHER).request
    with refused(ErrorCode.REQUEST_NOT_PENDING):
        by(BOB, denied, on=EITHER)


def test_same_approver_repeating_on_a_resolved_request_is_refused() -> None:
    """The idempotent repeat holds only while pending; afterwards it is a 409 like any other."""
    request, _ = approved()
    with refused(ErrorCode.REQUEST_NOT_PENDING):
        by(BOB, request)


def test_reviewing_a_request_past_its_expiry_is_refused() -> None:
    """At exactly expires_at a review is refused with request-expired (expire it instead)."""
    request = pending()
    with refused(ErrorCode.REQUEST_EXPIRED):
        by(BOB, request, now=request.expires_at)


def test_non_approver_learns_nothing_about_a_resolved_request() -> None:
    """Eligibility is checked before state: MALLORY gets not-an-approver, not a 409."""
    request, _ = approved()
    with refused(ErrorCode.NOT_AN_APPROVER):
        by(MALLORY, request)


# -- comments ------------------------------------------------------------------------------------


def test_overlong_comment_is_refused() -> None:
    """Review comments are bounded at 2000 characters."""
    with refused(ErrorCode.COMMENT_TOO_LONG):
        by(BOB, pending(), comment="x" * 2001)


def test_comment_with_control_characters_is_refused() -> None:
    """An escape sequence in a comment is refused; newlines and tabs are fine."""
    with refused(ErrorCode.COMMENT_CONTROL_CHARACTERS):
        by(BOB, pending(), comment="fine\x1b]0;pwned\x07")
    assert by(BOB, pending(), comment="line one\r\n\tline two").request.reviews[0].comment == (
        "line one\n\tline two"
    )


def test_blank_comment_is_stored_as_none() -> None:
    """White space alone is no comment."""
    assert by(BOB, pending(), comment="   ").request.reviews[0].comment is None


def test_review_with_naive_now_is_refused() -> None:
    """A clock value without a time zone is a programming error."""
    with pytest.raises(ValueError, match="timezone-aware"):
        by(BOB, pending(), now=LATER.replace(tzinfo=None))


def test_each_applied_review_moves_the_version_by_one() -> None:
    """Pending review: 1 -> 2; the approving review: 2 -> 3."""
    first = by(CAROL, pending(TWO_WITH_A_DBA), on=TWO_WITH_A_DBA)
    second = by(BOB, first.request, on=TWO_WITH_A_DBA)
    assert (first.request.version, second.request.version) == (2, 3)
