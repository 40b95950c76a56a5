"""One person is (issuer, subject), and one e-mail is one person too: self-review, quorum
counting, ownership and records written before people were recorded."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.core.approvals import (
    AccessRequest,
    ErrorCode,
    Grant,
    RequestStatus,
    Review,
    cancel,
    in_force,
    review,
    revoke,
)
from app.core.approvals.person import Person, Scope
from app.core.approvals.quorum import tally
from tests.core.approvals.people import (
    ALICE,
    ALICE_AT_DESK,
    APPROVE,
    BOB,
    CAROL,
    DAVE,
    NOW,
    SRE_LEADS,
    TWO_WITH_A_DBA,
    approved,
    pending,
    refused,
)

LATER = NOW + timedelta(minutes=5)
#: ALICE's own subject in a token that carries another e-mail and the SRE leads' group.
ALICE_AS_LEAD = replace(ALICE, email="alice.oncall@example.com", groups=frozenset({"sre-leads"}))
#: Someone else whose token carries ALICE's e-mail.
ALICE_LOOKALIKE = replace(ALICE, subject="u-eve", email="ALICE@example.com")


def by(who: object, request: AccessRequest, *, on: object = TWO_WITH_A_DBA) -> AccessRequest:
    """`who` approves `request` under `on` at LATER."""
    return review(
        request,
        reviewer=who,
        decision=APPROVE,
        policy=on,
        now=LATER,
        grant_id="g-1",  # type: ignore[arg-type]
    ).request


def test_the_requesters_subject_under_another_email_is_refused_as_self_approval() -> None:
    """ALICE's subject with another e-mail is still ALICE."""
    with refused(ErrorCode.SELF_APPROVAL):
        review(
            pending(),
            reviewer=ALICE_AS_LEAD,
            decision=APPROVE,
            policy=SRE_LEADS,
            now=LATER,
            grant_id="g-1",
        )


def test_the_requesters_email_under_another_subject_is_refused_as_self_approval() -> None:
    """The same e-mail in any case is the same person (the second guard)."""
    lead = replace(ALICE_LOOKALIKE, groups=frozenset({"sre-leads"}))
    with refused(ErrorCode.SELF_APPROVAL):
        review(
            pending(), reviewer=lead, decision=APPROVE, policy=SRE_LEADS, now=LATER, grant_id="g-1"
        )


def test_one_subject_under_two_emails_counts_once() -> None:
    """CAROL under two e-mails fills one place of the two-approver quorum."""
    twice = by(replace(CAROL, email="carol.dba@example.com"), by(CAROL, pending(TWO_WITH_A_DBA)))
    assert twice.status is RequestStatus.PENDING
    assert by(DAVE, twice).status is RequestStatus.APPROVED


def test_one_email_under_two_subjects_counts_once() -> None:
    """Two subjects with CAROL's e-mail (in another case) fill one place."""
    other = replace(CAROL, subject="u-carol-2", email="Carol@Example.com")
    assert by(other, by(CAROL, pending(TWO_WITH_A_DBA))).status is RequestStatus.PENDING


@given(emails=st.lists(st.sampled_from(["carol@example.com", "c@example.com", None]), max_size=5))
def test_reviews_of_one_subject_never_count_twice(emails: list[str | None]) -> None:
    """However many e-mails one subject approves under, it counts at most once."""
    reviews = [
        Review(
            reviewer=f"r{i}",
            email=email,
            groups=frozenset({"dba-leads"}),
            decision=APPROVE,
            at=NOW,
            issuer=CAROL.issuer,
            subject=CAROL.subject,
        )
        for i, email in enumerate(emails)
    ]
    approval = TWO_WITH_A_DBA.approval
    assert approval is not None
    assert len(tally(reviews, approval).approvers) <= 1


def test_an_approval_by_the_requester_never_counts() -> None:
    """Even a stored approval by the requester's subject is left out of the count."""
    own = Review(
        reviewer="alice",
        email=None,
        groups=frozenset({"sre-leads"}),
        decision=APPROVE,
        at=NOW,
        issuer=ALICE.issuer,
        subject=ALICE.subject,
    )
    approval = SRE_LEADS.approval
    assert approval is not None
    assert tally([own], approval, requester=ALICE_AT_DESK).approvers == ()


def test_an_approval_recorded_without_a_subject_does_not_count() -> None:
    """Reviews written before reviewers' subjects were stored name no person: fail closed."""
    old = Review(
        reviewer="bob@example.com",
        email="bob@example.com",
        groups=frozenset({"sre-leads"}),
        decision=APPROVE,
        at=NOW,
    )
    approval = SRE_LEADS.approval
    assert approval is not None
    assert tally([old], approval).approvers == ()


def test_only_the_same_subject_cancels() -> None:
    """ALICE under another e-mail cancels; someone with her e-mail may not."""
    assert cancel(pending(), by=ALICE_AS_LEAD, now=LATER).request.status is RequestStatus.CANCELLED
    with refused(ErrorCode.NOT_YOUR_REQUEST):
        cancel(pending(), by=ALICE_LOOKALIKE, now=LATER)


def test_a_request_without_people_belongs_to_nobody() -> None:
    """An old request (no issuer or subject) cannot be cancelled as one's own."""
    old = replace(pending(), requester=replace(ALICE_AT_DESK, issuer=None, subject=None))
    with refused(ErrorCode.NOT_YOUR_REQUEST):
        cancel(old, by=ALICE, now=LATER)


def test_the_holder_is_the_subject_not_the_email() -> None:
    """ALICE's lookalike cannot end her grant as its holder."""
    _, grant = approved()
    with refused(ErrorCode.NOT_ALLOWED_TO_REVOKE):
        revoke(grant, by=ALICE_LOOKALIKE, is_admin=False, is_approver=False, now=LATER)
    assert revoke(grant, by=ALICE, is_admin=False, is_approver=False, now=LATER).grant.ended_early


def test_a_grant_records_its_holder_and_policy() -> None:
    """The approved grant names ALICE by (issuer, subject) and the policy's fingerprint."""
    _, grant = approved()
    assert grant.holder == Person.of(ALICE)
    assert grant.scope == Scope("db-console", SRE_LEADS.fingerprint)


def test_a_pending_request_under_an_edited_policy_is_refused() -> None:
    """A request made before the approval block changed cannot be reviewed under the new one."""
    edited = replace(SRE_LEADS, fingerprint="0" * 64)
    with refused(ErrorCode.POLICY_MISMATCH):
        review(pending(), reviewer=BOB, decision=APPROVE, policy=edited, now=LATER, grant_id="g-1")


def test_a_grant_is_in_force_only_for_its_own_scope_and_time() -> None:
    """`in_force` returns the grant only for its scope, while it is active."""
    _, grant = approved()
    scope = Scope("db-console", SRE_LEADS.fingerprint)
    assert in_force(grant, scope, LATER) == grant
    assert in_force(grant, Scope("db-console", "0" * 64), LATER) is None
    assert in_force(grant, scope, grant.expires_at) is None
    assert in_force(None, scope, LATER) is None


def test_old_records_without_the_new_fields_decode() -> None:
    """Requests and grants stored before issuer, subject and fingerprint decode with None."""
    request, grant = approved()
    old_request = request.to_dict()
    del old_request["policy_fingerprint"]
    for field in ("issuer", "subject"):
        del old_request["requester"][field]
        del old_request["reviews"][0][field]
    old_grant = {
        k: v
        for k, v in grant.to_dict().items()
        if k not in {"issuer", "subject", "policy_fingerprint"}
    }
    decoded = AccessRequest.from_dict(old_request)
    decoded_grant = Grant.from_dict(old_grant)
    assert decoded.scope is None
    assert decoded.requester.person is None
    assert decoded.reviews[0].person is None
    assert (decoded_grant.holder, decoded_grant.scope) == (None, None)
