"""Which decisions may be remembered: the walk that proves a decision depends on the identity
and the application alone, and the instants a grant state can change a decision at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.core.context import Identity
from app.core.decision import GrantState
from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.memoisable import grant_instants, identity_only, settled
from app.core.policy.model import Application

ALICE = Identity("alice", "alice@example.com", frozenset({"engineers"}))
BOB = Identity("bob", "bob@example.com", frozenset({"sre"}))
MALLORY = Identity("mallory", "mallory@contractor.example", frozenset({"contractors"}))


def application(policies: str) -> Application:
    text = f"application: {{id: app, name: App, hosts: [app.example.com]}}\npolicies:\n{policies}"
    return compile_policy_set([Source("app.yaml", text)]).applications["app"]


GRAFANA = application(
    """
  - {name: Contractors never, action: block, include: [{group: contractors}]}
  - name: SRE on managed devices
    action: allow
    include: [{group: sre}]
    require: [{device: {managed: true}}]
    exclude: [{country: [KP]}]
  - {name: Engineers, action: allow, include: [{email_domain: example.com}]}
"""
)


def test_a_policy_of_identity_rules_only_is_marked() -> None:
    """Group, email, email domain, claim and everyone read the identity alone."""
    assert identity_only(GRAFANA.policies[0])
    assert identity_only(GRAFANA.policies[2])
    assert not identity_only(GRAFANA.policies[1])


def test_the_walk_passes_a_signal_policy_that_an_identity_rule_rules_out() -> None:
    """ALICE is not in `sre`: the device and country rules are never consulted for her."""
    assert settled(GRAFANA, ALICE) == (True, GRAFANA.policies[2])


def test_the_walk_stops_at_a_signal_rule_it_must_consult() -> None:
    """BOB's outcome hangs on his device: not settled."""
    assert settled(GRAFANA, BOB) == (False, None)


def test_a_block_matched_on_identity_is_settled() -> None:
    """MALLORY is refused by the first policy, on her group alone."""
    assert settled(GRAFANA, MALLORY) == (True, GRAFANA.policies[0])


def test_a_signal_rule_before_an_identity_rule_in_include_unsettles() -> None:
    """`include` stops at the first match: a country rule ahead of the group may match first."""
    app = application(
        "  - {name: p, action: allow, include: [{country: [FR]}, {group: engineers}]}\n"
    )
    assert settled(app, ALICE) == (False, None)


def test_a_failing_identity_require_settles_before_a_signal_require() -> None:
    """`require` stops at the first failure: a failing group settles it."""
    app = application(
        "  - name: p\n    action: allow\n    include: [{everyone: true}]\n"
        "    require: [{group: sre}, {ip: 10.0.0.0/8}]\n"
    )
    assert settled(app, ALICE) == (True, None)
    assert settled(app, BOB) == (False, None)


def test_time_and_auth_method_are_never_identity_rules() -> None:
    """The time moves and step-up changes the sign-in method: both are evaluated every time."""
    app = application(
        '  - {name: t, action: allow, include: [{time: {hours: "09:00-18:00"}}]}\n'
        "  - {name: a, action: allow, include: [{auth_method: mfa}]}\n"
    )
    assert not identity_only(app.policies[0])
    assert not identity_only(app.policies[1])
    assert settled(app, ALICE) == (False, None)


def test_anonymous_callers_walk_only_bypass_policies() -> None:
    """Without an identity the allow policy is skipped, the bypass decides."""
    app = application(
        "  - {name: staff, action: allow, include: [{device: {managed: true}}]}\n"
        "  - {name: open, action: bypass, include: [{everyone: true}]}\n"
    )
    assert settled(app, None) == (True, app.policies[1])


def test_every_instant_of_a_grant_state_is_a_boundary() -> None:
    """A grant's end and a justification's end are where a decision can change."""
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    ends, justified = now + timedelta(hours=1), now + timedelta(minutes=5)
    state = GrantState(grant_expires_at=ends, grant_id="g", justified_until=justified)
    assert set(grant_instants(state)) == {ends, justified}
    assert grant_instants(GrantState()) == ()
