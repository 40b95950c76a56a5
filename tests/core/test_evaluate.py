"""The pinned semantics of policies and decisions (docs/architecture.md §3, §4), one per test."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest

from app.core.decision import NO_GRANTS, Decision, Effect, GrantState, internal_error
from app.core.policy.evaluate import decide, evaluate, select
from app.core.policy.policy_set import PolicySet
from app.core.reasons import Reason
from tests.core.personas import (
    ALICE,
    BOB,
    MALLORY,
    MANAGED,
    NOW,
    PERSONAL,
    compile_texts,
    request,
)

GRAFANA = """\
application:
  id: grafana
  name: Grafana
  hosts: [grafana.example.com]
  paths: ["/"]
policies:
  - name: SRE on managed devices
    action: allow
    include: [{group: sre}]
    require: [{device: {managed: true}}]
    exclude: [{country: [KP, IR, RU]}]
  - name: Engineers, second opinion required
    action: allow
    include: [{email_domain: example.com}]
    justification: {required: true, prompt: "Ticket or incident?", min_length: 8}
    approval:
      approvers: [{group: sre-leads}, {email: cto@example.com}]
      approvals_required: 1
      default_duration: 1h
      max_duration: 8h
      pending_ttl: 24h
  - name: Contractors never
    action: block
    include: [{group: contractors}]
"""

GRAFANA_HEALTH = """\
application:
  id: grafana-health
  hosts: [grafana.example.com]
  paths: ["/api/health"]
policies:
  - name: Load balancer probe
    action: bypass
    include: [{ip: 10.0.0.0/8}]
"""

WIKI = """\
application:
  id: wiki
  hosts: [wiki.example.com]
policies:
  - name: Staff
    action: allow
    include: [{email_domain: example.com}]
  - name: Contractors read the handbook, with a reason
    action: allow
    include: [{group: contractors}]
    justification: {prompt: "Which page and why?", session_duration: 4h}
"""

STATUS = """\
application:
  id: status
  hosts: [status.example.com]
policies:
  - name: Public status page
    action: bypass
    include: [{everyone: true}]
"""

GRAFANA_REQUEST = "Engineers, second opinion required"


@pytest.fixture(scope="module")
def policies() -> PolicySet:
    """Grafana (with its health path), a wiki and a public status page."""
    return compile_texts(GRAFANA, GRAFANA_HEALTH, WIKI, STATUS)


def grafana(identity: object = None, **signals: object) -> dict[str, object]:
    """Keyword arguments for a request to Grafana's dashboards."""
    return {"identity": identity, "host": "grafana.example.com", "path": "/d/abc", **signals}


def decide_for(
    policy_set: PolicySet, grants: GrantState | None = NO_GRANTS, **kwargs: object
) -> Decision:
    """Evaluate one request built from `request(**kwargs)` at NOW."""
    return evaluate(policy_set, request(**kwargs), grants=grants, now=NOW)  # type: ignore[arg-type]


# -- 1. application routing -----------------------------------------------------------------------


def test_unknown_host_is_denied_application_not_found(policies: PolicySet) -> None:
    """A host no application claims is a deny, even for BOB."""
    decision = decide_for(policies, identity=BOB, host="unknown.example.com", device=MANAGED)
    assert (decision.effect, decision.reasons) == (Effect.DENY, (Reason.APPLICATION_NOT_FOUND,))
    assert decision.application is None


def test_unknown_host_is_denied_even_when_anonymous(policies: PolicySet) -> None:
    """Without identity an unknown host is still deny, not unauthenticated."""
    decision = decide_for(policies, identity=None, host="unknown.example.com")
    assert (decision.effect, decision.reasons) == (Effect.DENY, (Reason.APPLICATION_NOT_FOUND,))


def test_longest_prefix_application_decides(policies: PolicySet) -> None:
    """/api/health on Grafana's host is judged by grafana-health, not grafana."""
    decision = decide_for(
        policies, identity=None, host="grafana.example.com", path="/api/health", ip="10.1.1.1"
    )
    assert (decision.effect, decision.application) == (Effect.ALLOW, "grafana-health")


# -- 2. include / require / exclude ---------------------------------------------------------------


def test_any_include_is_enough() -> None:
    """One matching include of several is enough."""
    policy_set = compile_texts(
        "application: {id: a, hosts: [app.example.com]}\npolicies:\n"
        "  - {name: p, action: allow, include: [{group: sre}, {group: engineers}]}\n"
    )
    assert decide_for(policy_set, identity=ALICE, host="app.example.com").effect is Effect.ALLOW


def test_every_require_must_match() -> None:
    """A failing require (no MFA) stops the policy even when the others pass."""
    policy_set = compile_texts(
        "application: {id: a, hosts: [app.example.com]}\npolicies:\n"
        "  - name: p\n    action: allow\n    include: [{everyone: true}]\n"
        "    require: [{email_domain: contractor.example}, {auth_method: mfa}]\n"
    )
    decision = decide_for(policy_set, identity=MALLORY, host="app.example.com")
    assert (decision.effect, decision.reasons) == (Effect.DENY, (Reason.NO_POLICY_MATCHED,))


def test_any_exclude_stops_the_policy(policies: PolicySet) -> None:
    """BOB on a managed device but in RU is excluded from the SRE policy."""
    decision = decide_for(policies, **grafana(BOB, device=MANAGED, country="RU"))
    assert decision.policy == GRAFANA_REQUEST


def test_matched_policy_reports_include_and_require_reasons(policies: PolicySet) -> None:
    """The reasons name the include that matched and each require that passed."""
    decision = decide_for(policies, **grafana(BOB, device=MANAGED, country="FR"))
    assert decision.reasons == (Reason.POLICY_ALLOW, Reason.GROUPS_OK, Reason.DEVICE_OK)


# -- 3. order and default deny --------------------------------------------------------------------


def test_no_policy_matched_is_denied(policies: PolicySet) -> None:
    """A signed-in user no policy selects is denied with `no-policy-matched`."""
    outsider = dataclasses.replace(MALLORY, groups=frozenset(), email="eve@elsewhere.example")
    decision = decide_for(policies, **grafana(outsider))
    assert (decision.effect, decision.reasons) == (Effect.DENY, (Reason.NO_POLICY_MATCHED,))
    assert (decision.application, decision.policy) == ("grafana", None)


ORDERED = """\
application: {{id: ordered, hosts: [app.example.com]}}
policies:
  - {{name: first, action: {first}, include: [{{group: engineers}}]}}
  - {{name: second, action: {second}, include: [{{email: alice@example.com}}]}}
"""


def test_first_matching_policy_wins() -> None:
    """With allow above block, ALICE (matching both) is allowed by `first`."""
    policy_set = compile_texts(ORDERED.format(first="allow", second="block"))
    decision = decide_for(policy_set, identity=ALICE, host="app.example.com")
    assert (decision.effect, decision.policy) == (Effect.ALLOW, "first")


def test_swapping_the_order_swaps_the_outcome() -> None:
    """With block above allow, the same ALICE is denied by `first`."""
    policy_set = compile_texts(ORDERED.format(first="block", second="allow"))
    decision = decide_for(policy_set, identity=ALICE, host="app.example.com")
    assert (decision.effect, decision.policy) == (Effect.DENY, "first")


def test_a_non_matching_policy_is_skipped() -> None:
    """ALICE outside `engineers` skips the block in `first` and is allowed by `second`."""
    policy_set = compile_texts(ORDERED.format(first="block", second="allow"))
    former_engineer = dataclasses.replace(ALICE, groups=frozenset())
    decision = decide_for(policy_set, identity=former_engineer, host="app.example.com")
    assert (decision.effect, decision.policy) == (Effect.ALLOW, "second")


# -- 4. actions -----------------------------------------------------------------------------------


def test_block_is_a_deny(policies: PolicySet) -> None:
    """MALLORY is blocked on Grafana with `policy-block`, and the reason is her group: the
    matching rule of a `block` policy speaks with its "not allowed" code."""
    decision = decide_for(policies, **grafana(MALLORY))
    assert (decision.effect, decision.policy) == (Effect.DENY, "Contractors never")
    assert decision.reasons == (Reason.POLICY_BLOCK, Reason.GROUPS_NOT_ALLOWED)


def test_bypass_matches_an_anonymous_caller(policies: PolicySet) -> None:
    """The load balancer, with no identity, passes the health bypass."""
    decision = decide_for(
        policies, identity=None, host="grafana.example.com", path="/api/health", ip="10.0.0.9"
    )
    assert (decision.effect, decision.reasons) == (Effect.ALLOW, (Reason.POLICY_BYPASS,))
    assert decision.policy == "Load balancer probe"


def test_bypass_matches_a_signed_in_user_too(policies: PolicySet) -> None:
    """Bypass matches anyone, signed in or not."""
    decision = decide_for(policies, identity=MALLORY, host="status.example.com")
    assert (decision.effect, decision.reasons) == (Effect.ALLOW, (Reason.POLICY_BYPASS,))


def test_bypass_selectors_still_apply(policies: PolicySet) -> None:
    """The health bypass is for 10/8 only; an anonymous caller from elsewhere must sign in."""
    decision = decide_for(
        policies, identity=None, host="grafana.example.com", path="/api/health", ip="203.0.113.5"
    )
    assert (decision.effect, decision.reasons) == (
        Effect.UNAUTHENTICATED,
        (Reason.USER_UNAUTHENTICATED,),
    )


def test_everyone_in_an_allow_policy_means_signed_in_users() -> None:
    """`allow` + `everyone` does not let an anonymous caller in."""
    policy_set = compile_texts(
        "application: {id: a, hosts: [app.example.com]}\npolicies:\n"
        "  - {name: all staff, action: allow, include: [{everyone: true}]}\n"
    )
    decision = decide_for(policy_set, identity=None, host="app.example.com")
    assert decision.effect is Effect.UNAUTHENTICATED


def test_block_everyone_does_not_deny_an_anonymous_caller() -> None:
    """`block` + `everyone` matches signed-in users only; anonymous is asked to sign in."""
    policy_set = compile_texts(
        "application: {id: a, hosts: [app.example.com]}\npolicies:\n"
        "  - {name: closed, action: block, include: [{everyone: true}]}\n"
    )
    decision = decide_for(policy_set, identity=None, host="app.example.com")
    assert decision.effect is Effect.UNAUTHENTICATED


# -- 5. approval and justification ----------------------------------------------------------------


def test_approval_without_grant_needs_approval(policies: PolicySet) -> None:
    """ALICE with no grant gets needs_approval, `grant-missing`."""
    decision = decide_for(policies, **grafana(ALICE))
    assert (decision.effect, decision.policy) == (Effect.NEEDS_APPROVAL, GRAFANA_REQUEST)
    assert decision.reasons == (
        Reason.APPROVAL_REQUIRED,
        Reason.GRANT_MISSING,
        Reason.EMAIL_DOMAIN_OK,
    )


def test_approval_with_expired_grant_needs_approval(policies: PolicySet) -> None:
    """A grant that ran out a second ago gives needs_approval, `grant-expired`."""
    grants = GrantState(grant_expires_at=NOW - timedelta(seconds=1), grant_id="g-old")
    decision = decide_for(policies, grants, **grafana(ALICE))
    assert decision.effect is Effect.NEEDS_APPROVAL
    assert decision.reasons[:2] == (Reason.APPROVAL_REQUIRED, Reason.GRANT_EXPIRED)
    assert decision.grant_id is None


def test_grant_expiring_exactly_now_no_longer_counts(policies: PolicySet) -> None:
    """A grant counts iff now < expires_at; at expires_at it is expired."""
    grants = GrantState(grant_expires_at=NOW, grant_id="g-1")
    assert decide_for(policies, grants, **grafana(ALICE)).effect is Effect.NEEDS_APPROVAL


def test_approval_with_pending_request_is_pending(policies: PolicySet) -> None:
    """An open request gives pending with its id."""
    grants = GrantState(pending_request_id="r-7")
    decision = decide_for(policies, grants, **grafana(ALICE))
    assert (decision.effect, decision.pending_request_id) == (Effect.PENDING, "r-7")
    assert decision.reasons[:2] == (Reason.REQUEST_PENDING, Reason.GRANT_MISSING)


def test_pending_request_after_an_expired_grant_is_pending(policies: PolicySet) -> None:
    """Asking again after expiry: pending, and the reasons say the old grant expired."""
    grants = GrantState(grant_expires_at=NOW - timedelta(hours=1), pending_request_id="r-8")
    decision = decide_for(policies, grants, **grafana(ALICE))
    assert decision.effect is Effect.PENDING
    assert decision.reasons[:2] == (Reason.REQUEST_PENDING, Reason.GRANT_EXPIRED)


def test_approval_with_active_grant_allows(policies: PolicySet) -> None:
    """An active grant allows with `grant-active`, its id and its expiry."""
    expires = NOW + timedelta(minutes=30)
    grants = GrantState(grant_expires_at=expires, grant_id="g-1")
    decision = decide_for(policies, grants, **grafana(ALICE))
    assert decision.effect is Effect.ALLOW
    assert decision.reasons == (Reason.GRANT_ACTIVE, Reason.EMAIL_DOMAIN_OK)
    assert (decision.grant_id, decision.grant_expires_at) == ("g-1", expires)


def test_active_grant_wins_over_a_pending_request(policies: PolicySet) -> None:
    """With a live grant, a second open request does not hold the user up."""
    grants = GrantState(
        grant_expires_at=NOW + timedelta(minutes=5), grant_id="g-1", pending_request_id="r-9"
    )
    assert decide_for(policies, grants, **grafana(ALICE)).effect is Effect.ALLOW


def test_justification_alone_does_not_satisfy_approval(policies: PolicySet) -> None:
    """With both justification and approval, a recorded reason is not a grant."""
    grants = GrantState(justified_until=NOW + timedelta(hours=1))
    assert decide_for(policies, grants, **grafana(ALICE)).effect is Effect.NEEDS_APPROVAL


def test_justification_only_asks_for_a_reason(policies: PolicySet) -> None:
    """MALLORY on the wiki, with no reason on file, gets needs_justification."""
    decision = decide_for(policies, identity=MALLORY, host="wiki.example.com")
    assert decision.effect is Effect.NEEDS_JUSTIFICATION
    assert decision.reasons == (Reason.JUSTIFICATION_REQUIRED, Reason.GROUPS_OK)


def test_justification_only_allows_while_the_reason_is_valid(policies: PolicySet) -> None:
    """With justified_until in the future, access follows at once."""
    until = NOW + timedelta(hours=4)
    decision = decide_for(
        policies, GrantState(justified_until=until), identity=MALLORY, host="wiki.example.com"
    )
    assert (decision.effect, decision.grant_expires_at) == (Effect.ALLOW, until)
    assert decision.reasons == (Reason.JUSTIFICATION_ACTIVE, Reason.GROUPS_OK)


def test_justification_expires_exactly_at_justified_until(policies: PolicySet) -> None:
    """At justified_until the reason has lapsed and is asked for again."""
    decision = decide_for(
        policies, GrantState(justified_until=NOW), identity=MALLORY, host="wiki.example.com"
    )
    assert decision.effect is Effect.NEEDS_JUSTIFICATION


def test_approval_grant_does_not_count_as_justification(policies: PolicySet) -> None:
    """On a justification-only policy, a grant is not a reason on file."""
    grants = GrantState(grant_expires_at=NOW + timedelta(hours=1), grant_id="g-1")
    decision = decide_for(policies, grants, identity=MALLORY, host="wiki.example.com")
    assert decision.effect is Effect.NEEDS_JUSTIFICATION


def test_grant_state_unavailable_on_approval_policy_is_a_deny(policies: PolicySet) -> None:
    """If the grant store cannot answer, an approval policy fails closed."""
    decision = decide_for(policies, None, **grafana(ALICE))
    assert (decision.effect, decision.reasons) == (Effect.DENY, (Reason.GRANT_STATE_UNAVAILABLE,))
    assert decision.policy == GRAFANA_REQUEST


def test_grant_state_unavailable_on_justification_policy_is_a_deny(policies: PolicySet) -> None:
    """A justification-only policy also needs the store, so it fails closed too."""
    decision = decide_for(policies, None, identity=MALLORY, host="wiki.example.com")
    assert decision.reasons == (Reason.GRANT_STATE_UNAVAILABLE,)


def test_grant_state_unavailable_does_not_stop_a_plain_allow(policies: PolicySet) -> None:
    """BOB on a managed device is allowed without asking the store."""
    decision = decide_for(policies, None, **grafana(BOB, device=MANAGED))
    assert decision.effect is Effect.ALLOW


def test_grant_state_unavailable_does_not_stop_a_block(policies: PolicySet) -> None:
    """MALLORY is still blocked (deny policy-block) when the store is down."""
    decision = decide_for(policies, None, **grafana(MALLORY))
    assert decision.reasons[0] is Reason.POLICY_BLOCK


def test_selection_says_when_grant_state_is_needed(policies: PolicySet) -> None:
    """`select` tells the caller to fetch grants for ALICE but not for BOB on a managed device."""
    alice = select(policies, request(**grafana(ALICE)), now=NOW)  # type: ignore[arg-type]
    bob = select(policies, request(**grafana(BOB, device=MANAGED)), now=NOW)  # type: ignore[arg-type]
    assert (alice.needs_grant_state, bob.needs_grant_state) == (True, False)


def test_select_then_decide_equals_evaluate(policies: PolicySet) -> None:
    """The two-step path the service uses gives the same decision as evaluate."""
    ctx = request(**grafana(ALICE))  # type: ignore[arg-type]
    grants = GrantState(pending_request_id="r-1")
    two_step = decide(select(policies, ctx, now=NOW), ctx, grants=grants, now=NOW)
    assert two_step == evaluate(policies, ctx, grants=grants, now=NOW)


# -- 6. no identity -------------------------------------------------------------------------------


def test_anonymous_without_bypass_is_unauthenticated(policies: PolicySet) -> None:
    """An anonymous caller on Grafana's dashboards is asked to sign in, not denied."""
    decision = decide_for(policies, **grafana(None))
    assert (decision.effect, decision.reasons) == (
        Effect.UNAUTHENTICATED,
        (Reason.USER_UNAUTHENTICATED,),
    )
    assert decision.application == "grafana"


def test_anonymous_is_never_allowed_by_an_allow_policy(policies: PolicySet) -> None:
    """Even from a managed device in a fine country, no identity means no allow."""
    decision = decide_for(policies, **grafana(None, device=MANAGED, country="FR"))
    assert not decision.allowed


# -- 7. the Grafana story -------------------------------------------------------------------------


def test_grafana_sre_on_managed_device_is_allowed(policies: PolicySet) -> None:
    """BOB from France on a managed laptop goes straight in."""
    decision = decide_for(policies, **grafana(BOB, device=MANAGED, country="FR"))
    assert (decision.effect, decision.policy) == (Effect.ALLOW, "SRE on managed devices")


def test_grafana_sre_from_high_risk_country_falls_through_to_approval(policies: PolicySet) -> None:
    """BOB in RU, even on a managed laptop, needs a second opinion."""
    decision = decide_for(policies, **grafana(BOB, device=MANAGED, country="RU"))
    assert (decision.effect, decision.policy) == (Effect.NEEDS_APPROVAL, GRAFANA_REQUEST)


def test_grafana_sre_on_personal_device_falls_through_to_approval(policies: PolicySet) -> None:
    """BOB on a personal device needs a second opinion."""
    decision = decide_for(policies, **grafana(BOB, device=PERSONAL, country="FR"))
    assert (decision.effect, decision.policy) == (Effect.NEEDS_APPROVAL, GRAFANA_REQUEST)


def test_grafana_engineer_needs_approval(policies: PolicySet) -> None:
    """ALICE the engineer needs a second opinion."""
    assert decide_for(policies, **grafana(ALICE, device=MANAGED)).effect is Effect.NEEDS_APPROVAL


def test_grafana_contractor_is_denied(policies: PolicySet) -> None:
    """MALLORY is denied by `Contractors never`."""
    decision = decide_for(policies, **grafana(MALLORY, device=MANAGED))
    assert (decision.effect, decision.policy) == (Effect.DENY, "Contractors never")


# -- explain --------------------------------------------------------------------------------------


def test_explain_lists_every_policy_and_rule(policies: PolicySet) -> None:
    """BOB in RU: SRE policy excluded, approval policy matched, block not evaluated."""
    ctx = request(**grafana(BOB, device=MANAGED, country="RU"))  # type: ignore[arg-type]
    decision = evaluate(policies, ctx, grants=NO_GRANTS, now=NOW, explain=True)
    assert [(t.policy, t.matched, t.reason) for t in decision.explain] == [
        ("SRE on managed devices", False, Reason.EXCLUDE_MATCHED),
        (GRAFANA_REQUEST, True, Reason.POLICY_MATCHED),
        ("Contractors never", False, Reason.NOT_EVALUATED),
    ]
    sre = decision.explain[0]
    assert [(r.section, r.index, r.selector, r.matched, r.reason) for r in sre.rules] == [
        ("include", 0, "group: sre", True, Reason.GROUPS_OK),
        ("require", 0, "device: {managed: true}", True, Reason.DEVICE_OK),
        # The exclude rule matched: the country is why BOB is kept out of this policy.
        ("exclude", 0, "country: [KP, IR, RU]", True, Reason.COUNTRY_NOT_ALLOWED),
    ]
    assert decision.explain[2].rules == ()


def test_an_exclude_that_does_not_match_is_good_news(policies: PolicySet) -> None:
    """BOB outside the excluded countries: the exclude rule says `country-ok`."""
    ctx = request(**grafana(BOB, device=MANAGED, country="NO"))  # type: ignore[arg-type]
    decision = evaluate(policies, ctx, grants=NO_GRANTS, now=NOW, explain=True)
    exclude = decision.explain[0].rules[2]
    assert (exclude.section, exclude.matched, exclude.reason) == (
        "exclude",
        False,
        Reason.COUNTRY_OK,
    )


def test_explain_reports_failing_rules_with_their_fail_reason(policies: PolicySet) -> None:
    """MALLORY fails the SRE include (`groups-not-allowed`): the policy is include-not-matched."""
    ctx = request(**grafana(MALLORY))  # type: ignore[arg-type]
    decision = evaluate(policies, ctx, grants=NO_GRANTS, now=NOW, explain=True)
    sre = decision.explain[0]
    assert (sre.matched, sre.reason) == (False, Reason.INCLUDE_NOT_MATCHED)
    assert sre.rules[0].reason is Reason.GROUPS_NOT_ALLOWED
    assert sre.rules[1].reason is Reason.DEVICE_NOT_ALLOWED


def test_explain_reports_an_unmet_require(policies: PolicySet) -> None:
    """BOB on a personal device: the SRE policy fails on require."""
    ctx = request(**grafana(BOB, device=PERSONAL))  # type: ignore[arg-type]
    decision = evaluate(policies, ctx, grants=NO_GRANTS, now=NOW, explain=True)
    assert decision.explain[0].reason is Reason.REQUIRE_NOT_MET


def test_explain_marks_non_bypass_policies_unauthenticated_for_anonymous(
    policies: PolicySet,
) -> None:
    """With no identity, every allow/block policy is shown as `user-unauthenticated`."""
    ctx = request(**grafana(None))  # type: ignore[arg-type]
    decision = evaluate(policies, ctx, grants=NO_GRANTS, now=NOW, explain=True)
    assert {t.reason for t in decision.explain} == {Reason.USER_UNAUTHENTICATED}
    assert len(decision.explain) == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        grafana(BOB, device=MANAGED, country="FR"),
        grafana(BOB, device=MANAGED, country="RU"),
        grafana(ALICE),
        grafana(MALLORY),
        grafana(None),
        {"identity": None, "host": "grafana.example.com", "path": "/api/health", "ip": "10.0.0.1"},
    ],
    ids=["bob-fr", "bob-ru", "alice", "mallory", "anonymous", "probe"],
)
def test_explain_does_not_change_the_decision(
    policies: PolicySet, kwargs: dict[str, object]
) -> None:
    """Asking for the explain table gives the same effect, reasons and policy."""
    ctx = request(**kwargs)  # type: ignore[arg-type]
    plain = evaluate(policies, ctx, grants=NO_GRANTS, now=NOW)
    explained = evaluate(policies, ctx, grants=NO_GRANTS, now=NOW, explain=True)
    assert explained.explain
    assert dataclasses.replace(explained, explain=()) == plain


def test_explain_is_empty_unless_asked(policies: PolicySet) -> None:
    """The hot path carries no trace."""
    assert decide_for(policies, **grafana(ALICE)).explain == ()


def test_explain_for_unknown_host_is_empty(policies: PolicySet) -> None:
    """No application, no policies to list."""
    ctx = request(BOB, host="nowhere.example.com")
    assert evaluate(policies, ctx, grants=NO_GRANTS, now=NOW, explain=True).explain == ()


# -- §4 decisions and reasons ---------------------------------------------------------------------


def test_reason_codes_are_kebab_case() -> None:
    """Every reason code is lower-case kebab-case."""
    bad = [r.value for r in Reason if not re.fullmatch(r"[a-z]+(-[a-z]+)*", r.value)]
    assert bad == []


def test_effect_values_are_the_documented_six() -> None:
    """The effects are exactly those of docs/architecture.md §4."""
    assert {e.value for e in Effect} == {
        "allow",
        "deny",
        "unauthenticated",
        "needs_justification",
        "needs_approval",
        "pending",
    }


def test_only_allow_is_allowed() -> None:
    """`Decision.allowed` is true for ALLOW and false for every other effect."""
    assert [e for e in Effect if Decision(e, ()).allowed] == [Effect.ALLOW]


def test_internal_error_is_a_deny() -> None:
    """The fail-closed answer is deny with `internal-error`."""
    decision = internal_error("grafana")
    assert (decision.effect, decision.reasons, decision.application) == (
        Effect.DENY,
        (Reason.INTERNAL_ERROR,),
        "grafana",
    )
    assert not decision.allowed


def test_decision_reasons_are_reason_codes(policies: PolicySet) -> None:
    """Every reason a decision carries is a member of the closed vocabulary."""
    for kwargs in (grafana(BOB, device=MANAGED), grafana(ALICE), grafana(MALLORY), grafana()):
        decision = decide_for(policies, **kwargs)
        assert all(isinstance(r, Reason) for r in decision.reasons)
