"""Evaluate a request against a compiled policy set: the hot path, pure and allocation-light.

`select` finds the application and the first matching policy; `decide` turns that and the
grant state into a Decision. `evaluate` is both. Callers that fetch grants from a store call
`select` first so the store is asked only when the matching policy needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.core.context import AccessContext
from app.core.decision import NO_GRANTS, Decision, Effect, GrantState, PolicyTrace, RuleTrace
from app.core.policy.model import Action, Application, Policy
from app.core.policy.policy_set import PolicySet
from app.core.reasons import Reason
from app.core.selectors.base import Rule


@dataclass(frozen=True, slots=True)
class Selection:
    """The application and first matching policy for a request (either may be None)."""

    application: Application | None
    policy: Policy | None
    reasons: tuple[Reason, ...]
    trace: tuple[PolicyTrace, ...] = ()

    @property
    def needs_grant_state(self) -> bool:
        """Whether `decide` will need a GrantState for this selection."""
        return self.policy is not None and self.policy.needs_grant_state


def select(
    policy_set: PolicySet, context: AccessContext, *, now: datetime, explain: bool = False
) -> Selection:
    """Route to the application, then find the first policy that matches, in written order."""
    app = policy_set.index.resolve(context.host, context.path)
    if app is None:
        return Selection(None, None, (Reason.APPLICATION_NOT_FOUND,))
    if explain:
        return _select_explained(app, context, now)
    return select_in(app, context, now=now)


def first_match(app: Application, context: AccessContext, *, now: datetime) -> Policy | None:
    """The first policy of `app` that matches `context` (routing already done by the caller),
    e.g. to find the policy that asks for approval when a user requests access by application."""
    return select_in(app, context, now=now).policy


def select_in(app: Application, context: AccessContext, *, now: datetime) -> Selection:
    """`select` for an application already chosen."""
    anonymous = context.identity is None
    for policy in app.policies:
        if anonymous and policy.action is not Action.BYPASS:
            continue
        hit = _first_include(policy.include, context, now)
        if hit is None:
            continue
        if not _all_require(policy.require, context, now):
            continue
        if _any_exclude(policy.exclude, context, now):
            continue
        if policy.action is Action.BLOCK:  # what matched is why the person is refused
            return Selection(app, policy, (hit.fail, *(r.fail for r in policy.require)))
        return Selection(app, policy, (hit.ok, *(r.ok for r in policy.require)))
    return Selection(app, None, ())


def decide(
    selection: Selection, context: AccessContext, *, grants: GrantState | None, now: datetime
) -> Decision:
    """The effect of a selection. `grants=None` means the grant store could not answer."""
    app = selection.application
    policy = selection.policy
    trace = selection.trace
    if app is None:
        return Decision(Effect.DENY, selection.reasons, explain=trace)
    if policy is None:
        if context.identity is None:
            return Decision(
                Effect.UNAUTHENTICATED, (Reason.USER_UNAUTHENTICATED,), app.id, explain=trace
            )
        return Decision(Effect.DENY, (Reason.NO_POLICY_MATCHED,), app.id, explain=trace)
    reasons = selection.reasons
    if policy.action is Action.BYPASS:
        return Decision(Effect.ALLOW, (Reason.POLICY_BYPASS,), app.id, policy.name, explain=trace)
    if policy.action is Action.BLOCK:
        return Decision(
            Effect.DENY, (Reason.POLICY_BLOCK, *reasons), app.id, policy.name, explain=trace
        )
    if policy.approval is None and policy.justification is None:
        return Decision(
            Effect.ALLOW, (Reason.POLICY_ALLOW, *reasons), app.id, policy.name, explain=trace
        )
    if grants is None:
        return Decision(
            Effect.DENY, (Reason.GRANT_STATE_UNAVAILABLE,), app.id, policy.name, explain=trace
        )
    if grants.policy is not None and grants.policy != policy.fingerprint:
        # A grant satisfies only the policy (and requirement) that issued it.
        grants = NO_GRANTS
    if policy.approval is not None:
        return _decide_approval(app, policy, reasons, grants, now, trace)
    justified = grants.justified_until
    if justified is not None and now < justified:
        return Decision(
            Effect.ALLOW,
            (Reason.JUSTIFICATION_ACTIVE, *reasons),
            app.id,
            policy.name,
            grant_expires_at=justified,
            explain=trace,
        )
    return Decision(
        Effect.NEEDS_JUSTIFICATION,
        (Reason.JUSTIFICATION_REQUIRED, *reasons),
        app.id,
        policy.name,
        explain=trace,
    )


def _decide_approval(  # noqa: PLR0917  (private helper of decide, called once)
    app: Application,
    policy: Policy,
    reasons: tuple[Reason, ...],
    grants: GrantState,
    now: datetime,
    trace: tuple[PolicyTrace, ...],
) -> Decision:
    expires = grants.grant_expires_at
    starts = grants.grant_starts_at
    if expires is not None and now < expires and starts is not None and now < starts:
        # An approved window still ahead: not in yet, and the answer says why (to the second).
        return Decision(
            Effect.NEEDS_APPROVAL,
            (Reason.GRANT_UPCOMING, *reasons),
            app.id,
            policy.name,
            grant_id=grants.grant_id,
            grant_expires_at=expires,
            explain=trace,
        )
    if expires is not None and now < expires:
        return Decision(
            Effect.ALLOW,
            (Reason.GRANT_ACTIVE, *reasons),
            app.id,
            policy.name,
            grant_id=grants.grant_id,
            grant_expires_at=expires,
            explain=trace,
        )
    grant_reason = Reason.GRANT_EXPIRED if expires is not None else Reason.GRANT_MISSING
    if grants.pending_request_id is not None:
        return Decision(
            Effect.PENDING,
            (Reason.REQUEST_PENDING, grant_reason, *reasons),
            app.id,
            policy.name,
            pending_request_id=grants.pending_request_id,
            explain=trace,
        )
    return Decision(
        Effect.NEEDS_APPROVAL,
        (Reason.APPROVAL_REQUIRED, grant_reason, *reasons),
        app.id,
        policy.name,
        explain=trace,
    )


def evaluate(
    policy_set: PolicySet,
    context: AccessContext,
    *,
    grants: GrantState | None,
    now: datetime,
    explain: bool = False,
) -> Decision:
    """Decide one request. Pure: everything it needs, the time included, is an argument."""
    selection = select(policy_set, context, now=now, explain=explain)
    return decide(selection, context, grants=grants, now=now)


def _first_include(rules: tuple[Rule, ...], context: AccessContext, now: datetime) -> Rule | None:
    for rule in rules:
        if rule.test(context, now):
            return rule
    return None


# Plain loops, not any()/all() over generators: this is the hot path and they are faster.
def _all_require(rules: tuple[Rule, ...], context: AccessContext, now: datetime) -> bool:
    for rule in rules:  # noqa: SIM110
        if not rule.test(context, now):
            return False
    return True


def _any_exclude(rules: tuple[Rule, ...], context: AccessContext, now: datetime) -> bool:
    for rule in rules:  # noqa: SIM110
        if rule.test(context, now):
            return True
    return False


def _rule_reason(rule: Rule, matched: bool, section: str, blocks: bool) -> Reason:
    """The code that says what a rule's outcome meant for the person. A matching `exclude`
    rule, or a matching `include`/`require` rule of a `block` policy, is why they are kept
    out: its "not allowed" code, never `country-ok` for an excluded country. (An `exclude`
    of a `block` policy is an exception to the block: a match is good news again.)"""
    good = matched if (section == "exclude") == blocks else not matched
    return rule.ok if good else rule.fail


def _select_explained(app: Application, context: AccessContext, now: datetime) -> Selection:
    """The same walk as `select`, recording every rule of every policy for the explain table."""
    traces: list[PolicyTrace] = []
    chosen: Selection | None = None
    for policy in app.policies:
        if chosen is not None:
            traces.append(
                PolicyTrace(policy.name, policy.action.value, False, Reason.NOT_EVALUATED, ())
            )
            continue
        blocks = policy.action is Action.BLOCK
        rules = tuple(
            RuleTrace(section, i, rule.text, matched, _rule_reason(rule, matched, section, blocks))
            for section, group in (
                ("include", policy.include),
                ("require", policy.require),
                ("exclude", policy.exclude),
            )
            for i, rule in enumerate(group)
            for matched in (rule.test(context, now),)
        )
        included = [r for r in rules if r.section == "include" and r.matched]
        required_ok = all(r.matched for r in rules if r.section == "require")
        excluded = any(r.matched for r in rules if r.section == "exclude")
        if context.identity is None and policy.action is not Action.BYPASS:
            matched, reason = False, Reason.USER_UNAUTHENTICATED
        elif not included:
            matched, reason = False, Reason.INCLUDE_NOT_MATCHED
        elif not required_ok:
            matched, reason = False, Reason.REQUIRE_NOT_MET
        elif excluded:
            matched, reason = False, Reason.EXCLUDE_MATCHED
        else:
            matched, reason = True, Reason.POLICY_MATCHED
        traces.append(PolicyTrace(policy.name, policy.action.value, matched, reason, rules))
        if matched:
            ok = (included[0].reason, *(r.reason for r in rules if r.section == "require"))
            chosen = Selection(app, policy, ok)
    if chosen is None:
        return Selection(app, None, (), tuple(traces))
    return Selection(app, chosen.policy, chosen.reasons, tuple(traces))
