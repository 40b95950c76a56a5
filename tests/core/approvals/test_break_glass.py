"""Break-glass as pure transitions: who may use it, what it issues and records, the review an
approver gives afterwards (not justified revokes a live grant), and the overdue report that
many sweeps write once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from app.core.approvals import ErrorCode, EventType, Grant, GrantKind, GrantStatus, revoke
from app.core.approvals.break_glass import (
    NOT_JUSTIFIED_REASON,
    break_glass,
    report_overdue,
    review_break_glass,
)
from app.core.approvals.emergency_records import Verdict
from app.core.context import Identity
from app.core.policy.emergency import BreakGlass, Escalation
from app.core.policy.model import Approver, Policy
from tests.core.approvals.people import (
    ALICE,
    ALICE_AT_DESK,
    BOB,
    GOOD_REASON,
    MALLORY,
    NOW,
    approval,
    policy,
    refused,
)

ONCALL_ALICE = replace(ALICE, groups=frozenset({"engineers", "oncall"}))
CTO = Identity(
    subject="u-cto",
    email="cto@example.com",
    groups=frozenset({"leadership"}),
    issuer="https://idp.example.com",
)
HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)
GLASS = BreakGlass(who=(Approver("group", "oncall"),), max_duration=HOUR, review_within=DAY)
FALLBACK = Escalation(after=timedelta(minutes=30), to=(Approver("email", "cto@example.com"),))
EMERGENCY = replace(policy(replace(approval(), escalation=FALLBACK)), break_glass=GLASS)


def used(
    *,
    who: Identity = ONCALL_ALICE,
    on: Policy = EMERGENCY,
    duration: timedelta | None = None,
    current: Grant | None = None,
) -> Grant:
    """The grant `who` gives themselves at NOW."""
    return break_glass(
        grant_id="g-bg",
        application="db-console",
        policy=on,
        identity=who,
        requester=ALICE_AT_DESK,
        justification=GOOD_REASON,
        duration=duration,
        current=current,
        now=NOW,
    ).grant


def test_a_named_person_gets_access_at_once_for_the_maximum() -> None:
    """From now, for `max_duration` unless they ask for less, awaiting review in `review_within`."""
    grant = used()
    assert grant.kind is GrantKind.BREAK_GLASS
    assert grant.is_active(NOW)
    assert grant.expires_at == NOW + HOUR
    assert grant.policy_fingerprint == EMERGENCY.fingerprint
    assert grant.break_glass is not None
    assert grant.break_glass.review_due_at == NOW + DAY
    assert used(duration=timedelta(minutes=20)).expires_at == NOW + timedelta(minutes=20)


def test_it_is_loud_in_the_audit_log() -> None:
    """`break_glass_used` (with the reason and the review deadline) then `grant_issued`."""
    result = break_glass(
        grant_id="g-bg",
        application="db-console",
        policy=EMERGENCY,
        identity=ONCALL_ALICE,
        requester=ALICE_AT_DESK,
        justification=GOOD_REASON,
        duration=None,
        current=None,
        now=NOW,
    )
    kinds = [e.type for e in result.events]
    assert kinds == [EventType.BREAK_GLASS_USED, EventType.GRANT_ISSUED]
    assert result.events[0].data["justification"] == GOOD_REASON
    assert result.events[0].data["review_due_at"] == "2024-05-07T10:00:00Z"


def test_someone_not_named_may_not_break_the_glass() -> None:
    """ALICE outside on-call, and MALLORY, are refused."""
    with refused(ErrorCode.NOT_ALLOWED_TO_BREAK_GLASS):
        used(who=ALICE)
    with refused(ErrorCode.NOT_ALLOWED_TO_BREAK_GLASS):
        used(who=MALLORY)


def test_a_policy_without_break_glass_offers_none() -> None:
    """No `break_glass` block: refused with its own code."""
    with refused(ErrorCode.BREAK_GLASS_NOT_OFFERED):
        used(on=policy())


def test_a_reason_is_always_needed_and_judged_by_the_policy() -> None:
    """No reason, or one the policy's justification rules refuse, gets no access."""
    for text, code in (
        (None, ErrorCode.JUSTIFICATION_REQUIRED),
        ("help", ErrorCode.JUSTIFICATION_TOO_SHORT),
    ):
        with refused(code):
            break_glass(
                grant_id="g-bg",
                application="db-console",
                policy=EMERGENCY,
                identity=ONCALL_ALICE,
                requester=ALICE_AT_DESK,
                justification=text,
                duration=None,
                current=None,
                now=NOW,
            )


def test_no_longer_than_the_policy_allows() -> None:
    """Asking past `max_duration` is refused, not shortened silently."""
    with refused(ErrorCode.DURATION_TOO_LONG):
        used(duration=2 * HOUR)


def test_a_grant_in_force_is_kept_and_a_planned_window_refuses() -> None:
    """Nothing to break when the door is open; a window not yet begun holds the slot."""
    live = used()
    kept = break_glass(
        grant_id="g-other",
        application="db-console",
        policy=EMERGENCY,
        identity=ONCALL_ALICE,
        requester=ALICE_AT_DESK,
        justification=GOOD_REASON,
        duration=None,
        current=live,
        now=NOW + timedelta(minutes=1),
    )
    assert not kept.changed
    assert kept.grant is live
    ahead = replace(live, starts_at=NOW + DAY, expires_at=NOW + DAY + HOUR)
    with refused(ErrorCode.GRANT_IN_FORCE):
        used(current=ahead)


def test_an_approver_judges_it_justified() -> None:
    """BOB's verdict is recorded; the grant stays as it was."""
    result = review_break_glass(
        used(), reviewer=BOB, policy=EMERGENCY, verdict=Verdict.JUSTIFIED, now=NOW + HOUR / 2
    )
    assert result.grant.status is GrantStatus.ACTIVE
    assert result.grant.break_glass is not None
    assert result.grant.break_glass.verdict is Verdict.JUSTIFIED
    assert result.grant.break_glass.reviewed_by == BOB.user
    assert [e.type for e in result.events] == [EventType.BREAK_GLASS_REVIEWED]


def test_not_justified_revokes_a_live_grant() -> None:
    """The verdict and a `grant_revoked` event, in one transition."""
    result = review_break_glass(
        used(),
        reviewer=BOB,
        policy=EMERGENCY,
        verdict=Verdict.NOT_JUSTIFIED,
        now=NOW + HOUR / 2,
    )
    assert result.grant.status is GrantStatus.REVOKED
    assert result.grant.revoked_by == BOB.user
    assert result.grant.revoke_reason == NOT_JUSTIFIED_REASON
    assert [e.type for e in result.events] == [
        EventType.BREAK_GLASS_REVIEWED,
        EventType.GRANT_REVOKED,
    ]
    assert result.grant.version == used().version + 1


def test_not_justified_after_the_grant_ended_only_records_the_verdict() -> None:
    """After the fact is the usual case: an ended grant is judged, not revoked again."""
    ended = replace(used(), status=GrantStatus.EXPIRED)
    result = review_break_glass(
        ended, reviewer=BOB, policy=EMERGENCY, verdict=Verdict.NOT_JUSTIFIED, now=NOW + 2 * HOUR
    )
    assert result.grant.status is GrantStatus.EXPIRED
    assert [e.type for e in result.events] == [EventType.BREAK_GLASS_REVIEWED]


def test_not_justified_after_a_revocation_does_not_revoke_twice() -> None:
    """Review vs revoke: whichever comes second leaves one `grant_revoked` in all."""
    revoked = revoke(used(), by=BOB, is_admin=True, is_approver=True, now=NOW + HOUR / 4).grant
    result = review_break_glass(
        revoked, reviewer=BOB, policy=EMERGENCY, verdict=Verdict.NOT_JUSTIFIED, now=NOW + HOUR / 2
    )
    assert EventType.GRANT_REVOKED not in [e.type for e in result.events]


def test_one_review_per_use() -> None:
    """A second verdict is a conflict."""
    once = review_break_glass(
        used(), reviewer=BOB, policy=EMERGENCY, verdict=Verdict.JUSTIFIED, now=NOW + HOUR
    ).grant
    with refused(ErrorCode.BREAK_GLASS_ALREADY_REVIEWED):
        review_break_glass(
            once, reviewer=BOB, policy=EMERGENCY, verdict=Verdict.NOT_JUSTIFIED, now=NOW + HOUR
        )


def test_the_holder_never_reviews_their_own_use() -> None:
    """Even when they are an approver of the policy."""
    holder_approver = replace(ONCALL_ALICE, groups=frozenset({"oncall", "sre-leads"}))
    with refused(ErrorCode.SELF_APPROVAL):
        review_break_glass(
            used(), reviewer=holder_approver, policy=EMERGENCY, verdict=Verdict.JUSTIFIED, now=NOW
        )


def test_only_an_approver_of_the_policy_reviews() -> None:
    """MALLORY is not listed; the fallback CTO is not, until the review is overdue."""
    with refused(ErrorCode.NOT_AN_APPROVER):
        review_break_glass(
            used(), reviewer=MALLORY, policy=EMERGENCY, verdict=Verdict.JUSTIFIED, now=NOW
        )
    with refused(ErrorCode.NOT_AN_APPROVER):
        review_break_glass(
            used(), reviewer=CTO, policy=EMERGENCY, verdict=Verdict.JUSTIFIED, now=NOW + HOUR
        )
    late = review_break_glass(
        used(), reviewer=CTO, policy=EMERGENCY, verdict=Verdict.JUSTIFIED, now=NOW + DAY
    )
    assert late.events[0].data["late"] is True


def test_a_grant_that_is_not_break_glass_is_not_reviewed_so() -> None:
    """An approval grant has no after-the-fact review."""
    plain = replace(used(), kind=GrantKind.APPROVAL, request_id="r-1", break_glass=None)
    with refused(ErrorCode.NOT_BREAK_GLASS):
        review_break_glass(
            plain, reviewer=BOB, policy=EMERGENCY, verdict=Verdict.JUSTIFIED, now=NOW
        )


def test_an_unreviewed_use_is_reported_overdue_once() -> None:
    """At the deadline: one `break_glass_review_overdue`; a second sweep writes nothing."""
    grant = used()
    assert not report_overdue(grant, now=NOW + DAY - timedelta(seconds=1)).changed
    first = report_overdue(grant, now=NOW + DAY)
    assert [e.type for e in first.events] == [EventType.BREAK_GLASS_REVIEW_OVERDUE]
    assert not report_overdue(first.grant, now=NOW + DAY + HOUR).changed


def test_a_reviewed_use_is_never_overdue() -> None:
    """Reviewed in time: the deadline passes quietly."""
    judged = review_break_glass(
        used(), reviewer=BOB, policy=EMERGENCY, verdict=Verdict.JUSTIFIED, now=NOW + HOUR
    ).grant
    assert not report_overdue(judged, now=NOW + 2 * DAY).changed


@pytest.mark.parametrize("verdict", list(Verdict))
def test_the_review_survives_the_record_round_trip(verdict: Verdict) -> None:
    """What one replica writes another reads back; a break-glass grant without its review
    state is malformed."""
    judged = review_break_glass(
        used(), reviewer=BOB, policy=EMERGENCY, verdict=verdict, comment="seen", now=NOW + HOUR
    ).grant
    assert Grant.from_dict(judged.to_dict()) == judged
    broken = judged.to_dict()
    broken["break_glass"] = None
    with pytest.raises(ValueError, match="break_glass"):
        Grant.from_dict(broken)
