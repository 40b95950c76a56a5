"""Which decisions may be remembered: those that depend on nothing but who asks and where.

A decision may be kept (adapters/forward_auth/memo.py, docs/adr/0012) only when every rule the
first-match walk consulted to reach it reads the identity alone (`IDENTITY_KINDS`): then any
other request of the same identity to the same application walks the same rules, gets the same
results and lands on the same policy, whatever its IP, country, device, time or sign-in method.
A rule of any other kind that the walk has to consult makes the outcome depend on the request,
and the decision is evaluated every time. A policy made only of identity rules is marked
memoisable as a whole (`identity_only`); a policy that is not can still be passed over exactly
when an identity rule settles it first (an `include` that cannot match, a failing `require`).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

from app.core.context import AccessContext, Identity
from app.core.decision import GrantState
from app.core.policy.model import Action, Application, Policy
from app.core.selectors.base import Rule

#: Selector kinds whose outcome is a function of the verified identity alone (never of the
#: request's signals, the time, or how the person signed in, which step-up can change).
IDENTITY_KINDS = frozenset({"everyone", "email", "email_domain", "group", "claim"})
#: Before any instant: identity rules never read the time.
_NO_TIME = datetime.min.replace(tzinfo=UTC)


def identity_only(policy: Policy) -> bool:
    """Whether every rule of `policy` reads the identity alone (the compile-time mark)."""
    return all(
        rule.kind in IDENTITY_KINDS
        for rules in (policy.include, policy.require, policy.exclude)
        for rule in rules
    )


def settled(app: Application, identity: Identity | None) -> tuple[bool, Policy | None]:
    """(True, the policy the walk ends on, or None) when the first-match walk of `app` for
    `identity` consults identity rules only, so its outcome holds for every request of that
    identity to `app`; (False, None) as soon as it would consult any other rule.

    The walk is `evaluate.select_in`'s, rule for rule and in the same order, with the same
    short cuts: the first matching include, the first failing require, the first matching
    exclude."""
    context = AccessContext(host="", path="/", identity=identity)
    anonymous = identity is None
    for policy in app.policies:
        if anonymous and policy.action is not Action.BYPASS:
            continue
        outcome = _walk(policy, context)
        if outcome is None:
            return False, None
        if outcome:
            return True, policy
    return True, None


def _walk(policy: Policy, context: AccessContext) -> bool | None:
    """Whether `policy` matches; None when knowing it needs a rule that is not an identity's."""
    hit = _first(policy.include, context, want=True)
    if hit is not True:
        return hit
    passed = _first(policy.require, context, want=False)
    if passed is not True:
        return passed
    excluded = _first(policy.exclude, context, want=True)
    if excluded is None:
        return None
    return not excluded


def _first(rules: tuple[Rule, ...], context: AccessContext, *, want: bool) -> bool | None:
    """`want` if some rule tests `want` (stopping at the first such rule, as the evaluator
    does), `not want` if none does; None when a rule up to that one is not an identity rule."""
    for rule in rules:
        if rule.kind not in IDENTITY_KINDS:
            return None
        if rule.test(context, _NO_TIME) is want:
            return want
    return not want


def grant_instants(state: GrantState) -> tuple[datetime, ...]:
    """Every instant a grant state names (a grant's end, a justification's end, a planned
    window's start, ...): a decision made under `state` can change only when one of them
    passes, so a remembered one lasts no longer than the first still ahead."""
    found: list[datetime] = []
    for field in fields(state):
        value = getattr(state, field.name)
        if isinstance(value, datetime):
            found.append(value)
    return tuple(found)
