"""Policy impact in the core: the same inputs judged by two sets, grouped into who gains, who
loses and who is decided by another policy; grants are left out on both sides."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.context import UNKNOWN_DEVICE, AccessContext, Identity
from app.core.policy.impact import (
    Access,
    Case,
    Direction,
    Example,
    compare,
    rule_kinds,
    time_rules,
    time_signature,
)
from app.core.policy.policy_set import PolicySet
from tests.core.personas import ALICE, BOB, MALLORY, MANAGED, NOW, compile_texts, request

OLD = """\
application: {id: grafana, name: Grafana, hosts: [grafana.example.com]}
policies:
  - {name: Contractors never, action: block, include: [{group: contractors}]}
  - {name: SRE, action: allow, include: [{group: sre}], require: [{device: {managed: true}}]}
  - name: Engineers ask
    action: allow
    include: [{email_domain: example.com}]
    approval: {approvers: [{group: sre-leads}], default_duration: 1h, max_duration: 8h}
"""
#: SRE lose the shortcut (they must ask too); contractors may now read.
NEW = """\
application: {id: grafana, name: Grafana, hosts: [grafana.example.com]}
policies:
  - {name: Contractors read, action: allow, include: [{group: contractors}]}
  - name: Engineers ask
    action: allow
    include: [{email_domain: example.com}]
    approval: {approvers: [{group: sre-leads}], default_duration: 1h, max_duration: 8h}
"""
BUSINESS_HOURS = """\
application: {id: grafana, name: Grafana, hosts: [grafana.example.com]}
policies:
  - name: SRE in business hours
    action: allow
    include: [{group: sre}]
    require: [{time: {days: [mon, tue, wed, thu, fri], hours: "09:00-17:00"}}]
"""


def case(context: AccessContext, *, count: int = 1, minutes: int = 0) -> Case:
    """A recorded input seen `count` times, `minutes` after NOW."""
    identity = context.identity
    user = identity.user if identity else None
    example = Example(user, context.method, f"{context.host}{context.path}", "2024-05-06T10:00Z")
    return Case(context, NOW + timedelta(minutes=minutes), count, example)


GRAFANA = "grafana.example.com"


def test_a_person_who_loses_a_shortcut_is_a_loss_with_both_policies() -> None:
    """BOB, allowed by `SRE` before, must ask under the new set: a loss from allow to approval,
    counted once per record, naming both policies."""
    report = compare(
        compile_texts(OLD),
        compile_texts(NEW),
        [case(request(BOB, host=GRAFANA, device=MANAGED), count=7)],
    )
    (loss,) = report.of(Direction.LOSS)
    assert loss.application == "grafana"
    assert (loss.before.policy, loss.before.access) == ("SRE", Access.ALLOW)
    assert (loss.after.policy, loss.after.access) == ("Engineers ask", Access.APPROVAL)
    assert loss.after.reason == "approval-required"
    assert loss.decisions == 7
    assert loss.people == {"bob@example.com"}
    assert report.unchanged == 0


def test_a_person_let_in_by_a_new_policy_is_a_gain() -> None:
    """MALLORY, blocked before, is allowed by `Contractors read`: a gain from deny to allow."""
    report = compare(
        compile_texts(OLD), compile_texts(NEW), [case(request(MALLORY, host=GRAFANA), count=3)]
    )
    (gain,) = report.of(Direction.GAIN)
    assert (gain.before.policy, gain.before.reason) == ("Contractors never", "policy-block")
    assert (gain.after.policy, gain.after.access) == ("Contractors read", Access.ALLOW)
    assert gain.decisions == 3
    assert [e.user for e in gain.examples] == ["mallory@contractor.example"]


def test_the_same_outcome_is_unchanged_and_grants_do_not_count() -> None:
    """ALICE needs approval under both sets (whatever grant she may hold): unchanged."""
    report = compare(
        compile_texts(OLD), compile_texts(NEW), [case(request(ALICE, host=GRAFANA), count=5)]
    )
    assert report.shifts == ()
    assert (report.decisions, report.distinct, report.unchanged) == (5, 1, 5)


def test_another_policy_with_the_same_access_is_a_change_not_a_gain() -> None:
    """A renamed policy that still allows is reported as decided by another policy."""
    renamed = OLD.replace("name: SRE,", "name: Site reliability,")
    report = compare(
        compile_texts(OLD),
        compile_texts(renamed),
        [case(request(BOB, host=GRAFANA, device=MANAGED))],
    )
    (changed,) = report.of(Direction.CHANGED)
    assert (changed.before.policy, changed.after.policy) == ("SRE", "Site reliability")
    assert not report.of(Direction.GAIN)
    assert not report.of(Direction.LOSS)


def test_examples_are_distinct_people_and_at_most_three() -> None:
    """Five people losing the same way give one group, five people, three examples."""
    bobs = [
        request(Identity(f"u{n}", f"sre{n}@example.com", BOB.groups), host=GRAFANA, device=MANAGED)
        for n in range(5)
    ]
    report = compare(compile_texts(OLD), compile_texts(NEW), [case(c) for c in bobs])
    (loss,) = report.of(Direction.LOSS)
    assert len(loss.people) == 5
    assert [e.user for e in loss.examples] == [f"sre{n}@example.com" for n in range(3)]


def test_a_rule_that_fails_is_a_deny_on_that_side() -> None:
    """A selector that raises while judging makes that side a deny (fail closed), never an
    allow: the person is reported as losing access."""

    def broken(_context: AccessContext, _now: object) -> bool:
        raise RuntimeError("selector bug")

    old = compile_texts(OLD)
    app = old.applications["grafana"]
    sre = app.policies[1]
    bad_rule = dataclasses.replace(sre.include[0], test=broken)
    bad_sre = dataclasses.replace(sre, include=(bad_rule,))
    bad_app = dataclasses.replace(app, policies=(app.policies[0], bad_sre, app.policies[2]))
    report = compare(
        old, PolicySet.of([bad_app]), [case(request(BOB, host=GRAFANA, device=MANAGED))]
    )
    (loss,) = report.of(Direction.LOSS)
    assert (loss.after.effect, loss.after.reason) == ("deny", "internal-error")


def test_time_rules_tell_moments_apart_only_where_they_differ() -> None:
    """Two moments inside the window share a signature; one outside does not."""
    rules = time_rules(compile_texts(BUSINESS_HOURS))
    assert len(rules) == 1
    inside, later, evening = (NOW, NOW + timedelta(hours=2), NOW.replace(hour=20))
    assert time_signature(rules, inside) == time_signature(rules, later) == (True,)
    assert time_signature(rules, evening) == (False,)


def test_rule_kinds_name_every_selector_used() -> None:
    """The kinds of a set are what its rules read (what a replay must keep)."""
    assert rule_kinds(compile_texts(OLD)) == {"group", "device", "email_domain"}


@settings(max_examples=40, deadline=None)
@given(
    who=st.sampled_from([ALICE, BOB, MALLORY, None]),
    managed=st.booleans(),
    count=st.integers(min_value=1, max_value=1000),
)
def test_a_set_compared_with_itself_changes_nothing(
    who: Identity | None, managed: bool, count: int
) -> None:
    """Whoever asks, from whatever device, a set never differs from itself."""
    policies = compile_texts(OLD)
    context = request(who, host=GRAFANA, device=MANAGED if managed else UNKNOWN_DEVICE)
    report = compare(policies, policies, [case(context, count=count)])
    assert report.shifts == ()
    assert report.unchanged == count
