"""Extensions in the core: the holder of a live grant asks for more time, reviewed like any
request; approved, the same grant's end moves. An approval after the grant ended (ran out or
was revoked) is refused and resurrects nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from app.core.approvals import (
    ErrorCode,
    EventType,
    Grant,
    GrantKind,
    RequestStatus,
    RequestTransition,
    ReviewDecision,
    revoke,
)
from app.core.approvals.extending import ask_extension, lapse_extension, review_extension
from app.core.approvals.granting import justify
from app.core.policy.fingerprint import with_fingerprint
from tests.core.approvals.people import (
    ALICE_AT_DESK,
    APPROVE,
    BOB,
    DENY,
    GOOD_REASON,
    HOUR,
    NOW,
    SRE_LEADS,
    approved,
    refused,
)
from tests.core.personas import ALICE, MALLORY

#: BOB approved ALICE's hour at NOW + 5 min: her grant ends at NOW + 65 min.
_, GRANT = approved()
ASKED_AT = NOW + 30 * timedelta(minutes=1)


def extension(grant: Grant = GRANT, *, duration: timedelta | None = HOUR) -> RequestTransition:
    """ALICE asks at ASKED_AT for `duration` more on `grant`."""
    return ask_extension(
        grant,
        request_id="r-2",
        policy=SRE_LEADS,
        requester=ALICE_AT_DESK,
        by=ALICE,
        justification=GOOD_REASON,
        requested_duration=duration,
        now=ASKED_AT,
    )


def bob_reviews(
    grant: Grant, *, at: timedelta, decision: ReviewDecision = APPROVE
) -> RequestTransition:
    """BOB reviews the extension request `at` after NOW, with the grant as it stands."""
    return review_extension(
        extension().request,
        grant,
        reviewer=BOB,
        decision=decision,
        policy=SRE_LEADS,
        now=NOW + at,
    )


def test_an_extension_request_is_linked_to_the_grant_and_lapses_with_it() -> None:
    """The request names the grant (`extends`) and stops waiting when the grant would end."""
    asked = extension()
    assert asked.request.extends == GRANT.id
    assert asked.request.status is RequestStatus.PENDING
    assert asked.request.expires_at == GRANT.expires_at
    assert asked.events[0].data["extends"] == GRANT.id


def test_only_the_holder_may_ask_to_extend() -> None:
    """MALLORY cannot ask for more time on ALICE's grant."""
    with refused(ErrorCode.NOT_YOUR_GRANT):
        ask_extension(
            GRANT,
            request_id="r-2",
            policy=SRE_LEADS,
            requester=ALICE_AT_DESK,
            by=MALLORY,
            justification=GOOD_REASON,
            requested_duration=None,
            now=ASKED_AT,
        )


def test_an_ended_grant_cannot_be_extended() -> None:
    """Asking after the grant ran out is `grant-not-active`."""
    with refused(ErrorCode.GRANT_NOT_ACTIVE):
        ask_extension(
            GRANT,
            request_id="r-2",
            policy=SRE_LEADS,
            requester=ALICE_AT_DESK,
            by=ALICE,
            justification=GOOD_REASON,
            requested_duration=None,
            now=GRANT.expires_at,
        )


def test_a_justified_session_is_not_extended_but_renewed() -> None:
    """A grant from a reason alone is `grant-not-extendable`: the person gives a reason again."""
    reason_only = with_fingerprint("db-console", replace(SRE_LEADS, approval=None))
    session = justify(
        grant_id="g-9",
        application="db-console",
        policy=reason_only,
        requester=ALICE_AT_DESK,
        justification=GOOD_REASON,
        now=NOW,
    ).grant
    assert session.kind is GrantKind.JUSTIFICATION
    with refused(ErrorCode.GRANT_NOT_EXTENDABLE):
        extension(session)


def test_an_extension_longer_than_max_duration_is_refused() -> None:
    """The extra time is held to the policy's `max_duration`, as any request's."""
    with refused(ErrorCode.DURATION_TOO_LONG):
        extension(duration=9 * HOUR)


def test_an_approved_extension_moves_the_same_grants_end() -> None:
    """Approved: the grant keeps its id and start, ends an hour later, and the audit has the
    approval of the request and `grant_extended` (no second grant is issued)."""
    done = bob_reviews(GRANT, at=timedelta(minutes=40))
    assert done.grant is not None
    assert done.grant.id == GRANT.id
    assert done.grant.starts_at == GRANT.starts_at
    assert done.grant.expires_at == GRANT.expires_at + HOUR
    assert done.grant.version == GRANT.version + 1
    assert done.request.status is RequestStatus.APPROVED
    assert done.request.grant_id == GRANT.id
    kinds = [e.type for e in done.events]
    assert kinds == [
        EventType.REQUEST_REVIEWED,
        EventType.REQUEST_APPROVED,
        EventType.GRANT_EXTENDED,
    ]
    extended = done.events[-1]
    assert extended.data["previous_expires_at"] == "2024-05-06T11:05:00Z"
    assert extended.data["expires_at"] == "2024-05-06T12:05:00Z"
    assert extended.data["extension_request"] == "r-2"


def test_an_extension_approved_after_the_grant_ran_out_is_refused() -> None:
    """The grant is over (not yet swept) while its extension request still waits (here under a
    longer wait than usual): the approval is `grant-not-active`, nothing moves."""
    waiting = replace(extension().request, expires_at=GRANT.expires_at + HOUR)
    with refused(ErrorCode.GRANT_NOT_ACTIVE):
        review_extension(
            waiting,
            GRANT,
            reviewer=BOB,
            decision=APPROVE,
            policy=SRE_LEADS,
            now=GRANT.expires_at,
        )


def test_an_extension_request_lapses_when_its_grant_would_end() -> None:
    """Reviewed at the grant's end, the request itself is past due (`request-expired`)."""
    with refused(ErrorCode.REQUEST_EXPIRED):
        bob_reviews(GRANT, at=GRANT.expires_at - NOW)


def test_an_extension_approved_after_a_revocation_is_refused() -> None:
    """Revoked first, approved after: `grant-not-active`, the grant stays revoked."""
    revoked = revoke(
        GRANT, by=BOB, is_admin=False, is_approver=True, now=NOW + timedelta(minutes=35)
    ).grant
    with refused(ErrorCode.GRANT_NOT_ACTIVE):
        bob_reviews(revoked, at=timedelta(minutes=40))


def test_an_extension_of_an_ended_grant_may_still_be_denied() -> None:
    """A denial needs no live grant: it only ends the request."""
    revoked = revoke(
        GRANT, by=BOB, is_admin=False, is_approver=True, now=NOW + timedelta(minutes=35)
    ).grant
    done = bob_reviews(revoked, at=timedelta(minutes=40), decision=DENY)
    assert done.request.status is RequestStatus.DENIED
    assert done.grant is None


def test_the_requester_never_approves_their_own_extension() -> None:
    """Self-review is refused for an extension as for any request."""
    with refused(ErrorCode.SELF_APPROVAL):
        review_extension(
            extension().request,
            GRANT,
            reviewer=ALICE,
            decision=APPROVE,
            policy=SRE_LEADS,
            now=NOW + timedelta(minutes=40),
        )


def test_a_revoked_grants_extension_request_lapses_at_once() -> None:
    """Lapsed against the revoked grant: EXPIRED at that moment, `request_expired` because
    `grant-not-active`; against the live grant, or once resolved, nothing changes."""
    at = NOW + timedelta(minutes=35)
    pending = extension().request
    revoked = revoke(GRANT, by=BOB, is_admin=False, is_approver=True, now=at).grant
    lapsed = lapse_extension(pending, revoked, now=at)
    assert (lapsed.request.status, lapsed.request.resolved_at) == (RequestStatus.EXPIRED, at)
    assert [(e.type, e.data["because"]) for e in lapsed.events] == [
        (EventType.REQUEST_EXPIRED, "grant-not-active")
    ]
    assert lapse_extension(pending, GRANT, now=at).events == ()
    assert lapse_extension(lapsed.request, revoked, now=at).events == ()


def test_only_the_extended_grant_lapses_its_request() -> None:
    """Another grant than the one the request extends is a programming error."""
    other = replace(GRANT, id="g-other")
    with pytest.raises(ValueError, match="not the one the request extends"):
        lapse_extension(extension().request, other, now=ASKED_AT)
