"""Grants: justified sessions, who may revoke or end one early, and expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from app.core.approvals import (
    ErrorCode,
    EventType,
    GrantKind,
    GrantStatus,
    expire_grant,
    justify,
    revoke,
)
from app.core.approvals.events import GrantTransition
from app.core.context import Identity
from tests.core.approvals.people import (
    ADMIN,
    ALICE,
    ALICE_AT_DESK,
    BOB,
    GOOD_REASON,
    HOUR,
    MALLORY,
    NOW,
    SRE_LEADS,
    TICKET,
    approved,
    refused,
)

JUSTIFIED_ONLY = replace(SRE_LEADS, name="Reason first", approval=None)
SOON = NOW + timedelta(minutes=10)


def session(text: str | None = GOOD_REASON) -> GrantTransition:
    """ALICE gives a reason under a justification-only policy at NOW."""
    return justify(
        grant_id="g-9",
        application="wiki",
        policy=JUSTIFIED_ONLY,
        requester=ALICE_AT_DESK,
        justification=text,
        now=NOW,
    )


def end(
    by: Identity, *, is_admin: bool = False, is_approver: bool = False, **extra: object
) -> GrantTransition:
    """`by` ends ALICE's approved grant ten minutes after NOW."""
    _, grant = approved()
    arguments: dict[str, object] = {"now": SOON, "reason": None, **extra}
    return revoke(grant, by=by, is_admin=is_admin, is_approver=is_approver, **arguments)  # type: ignore[arg-type]


# -- justified sessions --------------------------------------------------------------------------


def test_justification_opens_a_session_for_session_duration() -> None:
    """A valid reason gives a justification grant from now for the policy's session_duration."""
    grant = session().grant
    assert (grant.kind, grant.request_id, grant.status) == (
        GrantKind.JUSTIFICATION,
        None,
        GrantStatus.ACTIVE,
    )
    assert (grant.starts_at, grant.expires_at) == (NOW, NOW + TICKET.session_duration)
    assert (grant.user, grant.justification, grant.version) == (ALICE.user, GOOD_REASON, 1)


def test_justification_emits_recorded_then_issued() -> None:
    """The reason is recorded with its prompt and signals, then the session grant is issued."""
    done = session()
    assert [e.type for e in done.events] == [
        EventType.JUSTIFICATION_RECORDED,
        EventType.GRANT_ISSUED,
    ]
    recorded, issued = done.events
    assert (recorded.data["prompt"], recorded.data["country"]) == (TICKET.prompt, "FR")
    assert (issued.data["kind"], issued.data["duration"]) == ("justification", 8 * 3600)


def test_justification_is_checked_like_a_request_reason() -> None:
    """A reason that does not match the pattern opens no session."""
    with refused(ErrorCode.JUSTIFICATION_PATTERN_MISMATCH):
        session("I just want to")


def test_justification_is_required() -> None:
    """No reason, no session."""
    with refused(ErrorCode.JUSTIFICATION_REQUIRED):
        session(None)


def test_justify_under_an_approval_policy_is_refused() -> None:
    """Where approval is needed, the reason goes into the access request instead."""
    with refused(ErrorCode.POLICY_NEEDS_APPROVAL):
        justify(
            grant_id="g-9",
            application="db-console",
            policy=SRE_LEADS,
            requester=ALICE_AT_DESK,
            justification=GOOD_REASON,
            now=NOW,
        )


def test_justify_under_a_policy_without_justification_is_refused() -> None:
    """A policy that asks for no reason has no session to open."""
    with refused(ErrorCode.POLICY_NEEDS_NO_JUSTIFICATION):
        justify(
            grant_id="g-9",
            application="wiki",
            policy=replace(JUSTIFIED_ONLY, justification=None),
            requester=ALICE_AT_DESK,
            justification=GOOD_REASON,
            now=NOW,
        )


# -- revoking and ending early -------------------------------------------------------------------


def test_approver_revokes_a_grant() -> None:
    """An approver ends the grant: REVOKED, grant_revoked, with who, when and why."""
    done = end(BOB, is_approver=True, reason="incident closed")
    grant = done.grant
    assert (grant.status, grant.revoked_by, grant.revoked_at, grant.revoke_reason) == (
        GrantStatus.REVOKED,
        BOB.user,
        SOON,
        "incident closed",
    )
    assert [e.type for e in done.events] == [EventType.GRANT_REVOKED]
    assert not grant.ended_early


def test_admin_revokes_a_grant() -> None:
    """An admin may revoke any grant."""
    assert end(ADMIN, is_admin=True).grant.status is GrantStatus.REVOKED


def test_requester_ends_their_own_grant_early() -> None:
    """ALICE ends her grant: REVOKED by herself, reported as grant_ended."""
    done = end(ALICE)
    assert done.grant.ended_early
    assert [e.type for e in done.events] == [EventType.GRANT_ENDED]


def test_others_cannot_revoke() -> None:
    """MALLORY, neither admin nor approver nor holder, may not end the grant."""
    with refused(ErrorCode.NOT_ALLOWED_TO_REVOKE):
        end(MALLORY)


def test_revoked_grant_no_longer_counts() -> None:
    """After revocation the grant is not active, even before its expiry."""
    assert not end(BOB, is_approver=True).grant.is_active(SOON)


def test_revoking_twice_is_refused() -> None:
    """A revoked grant is not active; revoking it again is a conflict."""
    gone = end(BOB, is_approver=True).grant
    with refused(ErrorCode.GRANT_NOT_ACTIVE):
        revoke(gone, by=ADMIN, is_admin=True, is_approver=False, now=SOON, reason=None)


def test_revoking_a_grant_past_its_expiry_is_refused() -> None:
    """At expires_at the grant is over; it is expired, not revoked."""
    _, grant = approved()
    with refused(ErrorCode.GRANT_NOT_ACTIVE):
        revoke(grant, by=BOB, is_admin=False, is_approver=True, now=grant.expires_at, reason=None)


def test_permission_is_checked_before_state() -> None:
    """MALLORY learns nothing about a grant's state: not-allowed-to-revoke first."""
    _, grant = approved()
    with refused(ErrorCode.NOT_ALLOWED_TO_REVOKE):
        revoke(grant, by=MALLORY, is_admin=False, is_approver=False, now=grant.expires_at)


def test_revoke_reason_is_bounded() -> None:
    """A revocation reason is a comment: bounded and free of control characters."""
    with refused(ErrorCode.COMMENT_TOO_LONG):
        end(BOB, is_approver=True, reason="x" * 2001)


def test_revoke_moves_the_version_by_one() -> None:
    """Each applied grant transition increments the version once."""
    assert end(BOB, is_approver=True).grant.version == 2


# -- expiry --------------------------------------------------------------------------------------


def test_grant_expires_at_exactly_expires_at() -> None:
    """At expires_at an ACTIVE grant becomes EXPIRED with grant_expired."""
    _, grant = approved()
    done = expire_grant(grant, now=grant.expires_at)
    assert (done.grant.status, done.grant.version) == (GrantStatus.EXPIRED, 2)
    assert [e.type for e in done.events] == [EventType.GRANT_EXPIRED]
    assert done.events[0].actor is None


def test_grant_counts_until_the_second_before_expiry() -> None:
    """A grant counts iff now < expires_at."""
    _, grant = approved()
    assert grant.is_active(grant.expires_at - timedelta(seconds=1))
    assert not grant.is_active(grant.expires_at)


def test_expiring_a_grant_early_is_a_no_op() -> None:
    """Before expires_at nothing happens: same grant, no events."""
    _, grant = approved()
    done = expire_grant(grant, now=grant.expires_at - HOUR / 2)
    assert (done.grant, done.changed) == (grant, False)


def test_expiring_a_revoked_grant_is_a_no_op() -> None:
    """A revoked grant stays revoked; expiry finds nothing to do."""
    gone = end(BOB, is_approver=True).grant
    assert not expire_grant(gone, now=gone.expires_at + HOUR).changed


def test_revoke_refuses_a_naive_now() -> None:
    """A clock value without a time zone is a programming error."""
    _, grant = approved()
    with pytest.raises(ValueError, match="timezone-aware"):
        revoke(grant, by=BOB, is_admin=False, is_approver=True, now=SOON.replace(tzinfo=None))
