"""Who may see a request or a grant and who may review a request: one rule for the API, the
pages and the review itself.

ALICE asks for the database console, whose policy SRE leads approve: BOB is one. CAROL
approves billing only; MALLORY approves nothing; ADMIN sees everything as an admin but is no
approver; service tokens see everything when acting alone and what their person sees otherwise.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.approvals import (
    AccessRequest,
    ApprovalError,
    ErrorCode,
    RequestStatus,
    ReviewDecision,
    review,
)
from app.core.approvals.visibility import (
    Onlooker,
    approves_anything,
    judging_approval,
    may_review,
    may_see_grant,
    may_see_request,
    oversees,
)
from app.core.context import Identity
from app.core.policy.fingerprint import with_fingerprint
from app.core.policy.model import Action, Application, Approver, Policy
from app.core.policy.policy_set import PolicySet
from tests.core.approvals.people import (
    ADMIN,
    ALICE,
    ALICE_AT_DESK,
    BOB,
    CAROL,
    MALLORY,
    NOW,
    SRE_LEADS,
    approval,
    approved,
    pending,
    policy,
    refused,
)

BILLING_POLICY = with_fingerprint(
    "billing",
    Policy(
        name="Billing, second opinion",
        index=0,
        action=Action.ALLOW,
        include=(),
        require=(),
        exclude=(),
        approval=approval(Approver("group", "dba-leads")),
    ),
)


def application(app_id: str, *policies: Policy) -> Application:
    """An application guarded by `policies`."""
    host = f"{app_id}.example.com"
    return Application(app_id, app_id, (host,), ("/",), policies, f"apps/{app_id}.yaml")


#: The database console (SRE leads approve) and billing (DBA leads approve).
POLICIES = PolicySet.of(
    [application("db-console", SRE_LEADS), application("billing", BILLING_POLICY)]
)
#: The same applications after the console's policy was edited (another approver list).
EDITED = PolicySet.of(
    [
        application("db-console", policy(approval(Approver("group", "dba-leads")))),
        application("billing", BILLING_POLICY),
    ]
)
NOTHING = PolicySet.of([])

#: ALICE as an SRE lead herself; her twin: the same e-mail (other case) at another issuer.
ALICE_AS_LEAD = replace(ALICE, groups=frozenset({"sre-leads"}))
ALICE_TWIN = Identity(subject="other", email="ALICE@example.com", issuer="https://other.example")
ALICE_TWIN_LEAD = replace(ALICE_TWIN, groups=frozenset({"sre-leads"}))

ONLOOKERS = {
    "requester": Onlooker(ALICE),
    "requester-who-is-an-approver": Onlooker(ALICE_AS_LEAD),
    "requester-twin": Onlooker(ALICE_TWIN),
    "requester-twin-who-is-an-approver": Onlooker(ALICE_TWIN_LEAD),
    "approver": Onlooker(BOB),
    "token-for-the-approver": Onlooker(BOB, via_token=True),
    "approver-of-another-app": Onlooker(CAROL),
    "token-for-approver-of-another-app": Onlooker(CAROL, via_token=True),
    "stranger": Onlooker(MALLORY),
    "admin": Onlooker(ADMIN, is_admin=True),
    "admin-group-member-not-admin": Onlooker(ADMIN),
    "token-alone": Onlooker(None, via_token=True),
    "nobody": Onlooker(None),
}
#: name: (sees ALICE's request, may review it, sees her grant)
EXPECTED = {
    "requester": (True, False, True),
    "requester-who-is-an-approver": (True, False, True),
    "requester-twin": (False, False, False),
    "requester-twin-who-is-an-approver": (True, False, True),
    "approver": (True, True, True),
    "token-for-the-approver": (True, True, True),
    "approver-of-another-app": (False, False, False),
    "token-for-approver-of-another-app": (False, False, False),
    "stranger": (False, False, False),
    "admin": (True, False, True),
    "admin-group-member-not-admin": (False, False, False),
    "token-alone": (True, False, True),
    "nobody": (False, False, False),
}


@pytest.mark.parametrize("name", list(ONLOOKERS))
def test_who_sees_alices_request(name: str) -> None:
    """The requester, the console's approvers and whoever oversees all see it; nobody else."""
    assert may_see_request(ONLOOKERS[name], pending(), POLICIES) is EXPECTED[name][0]


@pytest.mark.parametrize("name", list(ONLOOKERS))
def test_who_may_review_alices_request(name: str) -> None:
    """Only a listed approver who is not ALICE, under any name or token, may review it."""
    assert may_review(ONLOOKERS[name], pending(), POLICIES) is EXPECTED[name][1]


@pytest.mark.parametrize("name", list(ONLOOKERS))
def test_who_sees_alices_grant(name: str) -> None:
    """The holder, the approvers of its policy and whoever oversees all see the grant."""
    _, grant = approved()
    assert may_see_grant(ONLOOKERS[name], grant, POLICIES) is EXPECTED[name][2]


@pytest.mark.parametrize(
    ("record", "policies"),
    [
        pytest.param(approved()[0], POLICIES, id="approved"),
        pytest.param(replace(pending(), status=RequestStatus.EXPIRED), POLICIES, id="expired"),
        pytest.param(pending(), EDITED, id="policy-edited-since"),
        pytest.param(replace(pending(), policy_fingerprint=None), POLICIES, id="no-fingerprint"),
        pytest.param(pending(), NOTHING, id="application-gone"),
        pytest.param(replace(pending(), policy="Old name"), POLICIES, id="policy-renamed"),
    ],
)
def test_the_approver_is_not_offered_what_the_review_would_refuse(
    record: AccessRequest, policies: PolicySet
) -> None:
    """BOB may not review a resolved request, or one made under a policy that changed,
    vanished or was renamed: the review would be refused, so it is not offered."""
    assert not may_review(Onlooker(BOB), record, policies)


def test_an_approver_still_sees_a_request_made_under_an_edited_policy() -> None:
    """Seeing follows the policy's name (the approvers listed today); reviewing its version."""
    on_edit = Onlooker(CAROL)  # a DBA lead: an approver of the edited console policy
    assert may_see_request(on_edit, pending(), EDITED)
    assert not may_review(on_edit, pending(), EDITED)


def test_admins_and_lone_tokens_oversee_tokens_for_a_person_do_not() -> None:
    """Overseeing everything is for admins and service tokens acting for nobody."""
    assert oversees(Onlooker(ADMIN, is_admin=True))
    assert oversees(Onlooker(None, via_token=True))
    assert not oversees(Onlooker(BOB, via_token=True))
    assert not oversees(Onlooker(None))


def test_an_inbox_is_for_admins_and_approvers() -> None:
    """BOB and CAROL approve something, ADMIN oversees; ALICE and MALLORY have no inbox."""
    has_inbox = {
        name: approves_anything(ONLOOKERS[name], POLICIES)
        for name in ("approver", "approver-of-another-app", "admin", "requester", "stranger")
    }
    assert has_inbox == {
        "approver": True,
        "approver-of-another-app": True,
        "admin": True,
        "requester": False,
        "stranger": False,
    }


def test_a_changed_policy_is_reported_before_who_is_asking() -> None:
    """ALICE reviewing her own request under an edited policy hears policy-mismatch first."""
    edited = EDITED.applications["db-console"].policies[0]
    with refused(ErrorCode.POLICY_MISMATCH):
        judging_approval(pending(), reviewer=ALICE_AS_LEAD, policy=edited)


def test_self_review_is_reported_before_eligibility() -> None:
    """ALICE, no approver, reviewing her own request hears self-approval."""
    with refused(ErrorCode.SELF_APPROVAL):
        judging_approval(pending(), reviewer=ALICE, policy=SRE_LEADS)


# -- the offer and the review agree ----------------------------------------------------------

GROUPS = st.frozensets(st.sampled_from(["sre-leads", "dba-leads", "engineers", "contractors"]))
identities = st.builds(
    Identity,
    subject=st.sampled_from(["u-alice", "u-bob", "u-carol", "u-other"]),
    email=st.none() | st.sampled_from(["alice@example.com", "ALICE@example.com", "bob@x.io"]),
    groups=GROUPS,
    issuer=st.sampled_from([ALICE.issuer, "https://other.example"]),
)
onlookers = st.builds(
    Onlooker,
    identity=st.none() | identities,
    is_admin=st.booleans(),
    via_token=st.booleans(),
)


@st.composite
def requests(draw: st.DrawFn) -> AccessRequest:
    """ALICE's (or another's) request in any status, under the current, an edited or no
    policy version, possibly on an application that is gone."""
    requester = replace(
        ALICE_AT_DESK,
        subject=draw(st.sampled_from(["u-alice", "u-other"])),
        email=draw(st.sampled_from(["alice@example.com", "carol@example.com"])),
    )
    made = pending(requester=requester)
    return replace(
        made,
        status=draw(st.sampled_from(RequestStatus)),
        application=draw(st.sampled_from(["db-console", "db-console", "gone"])),
        policy_fingerprint=draw(st.sampled_from([made.policy_fingerprint, "0" * 64, None])),
    )


def review_accepted(onlooker: Onlooker, request: AccessRequest, policies: PolicySet) -> bool:
    """Whether a denial by the onlooker, sent while the request is still open, goes through
    (a denial: it needs no fresh sign-in, so only who and what are judged)."""
    app = policies.applications.get(request.application)
    judged_by = app.policy_named(request.policy) if app is not None else None
    if onlooker.identity is None or judged_by is None:
        return False
    try:
        review(
            request,
            reviewer=onlooker.identity,
            decision=ReviewDecision.DENY,
            policy=judged_by,
            now=NOW + timedelta(minutes=1),
            grant_id="g-1",
        )
    except ApprovalError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(onlooker=onlookers, request=requests(), policies=st.sampled_from([POLICIES, EDITED]))
def test_what_is_offered_for_review_is_exactly_what_the_review_accepts(
    onlooker: Onlooker, request: AccessRequest, policies: PolicySet
) -> None:
    """For anyone and any request, the review forms are offered iff the review goes through,
    and whoever is offered a review can see the request."""
    offered = may_review(onlooker, request, policies)
    assert offered is review_accepted(onlooker, request, policies)
    if offered:
        assert may_see_request(onlooker, request, policies)
