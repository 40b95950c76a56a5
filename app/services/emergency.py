"""Escalation and break-glass as a service: the sweep that escalates due requests and reports
overdue break-glass reviews, using break-glass, and reviewing a use afterwards.

Every change is a pure transition (core.approvals.escalation, break_glass) applied by the
store with its audit and outbox entries in one MULTI. The sweep runs on every replica: each
due record is one compare-and-set, and the transition is idempotent, so N replicas write one
event between them (docs/adr/0016-escalation-exactly-once.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta

from app.core import approvals as core
from app.core.approvals import ApprovalError, ErrorCode, Grant
from app.core.approvals.break_glass import break_glass, report_overdue, review_break_glass
from app.core.approvals.emergency_records import Verdict
from app.core.approvals.escalation import escalate
from app.core.approvals.person import Person, Scope
from app.core.approvals.visibility import may_see_grant, policy_named
from app.core.context import AccessContext
from app.core.policy.evaluate import first_match
from app.core.policy.model import Action, Policy
from app.core.policy.policy_set import PolicySet
from app.services.emergency_ports import EmergencyStore
from app.services.errors import NotVisibleError, ScopeError
from app.services.ports import Clock
from app.services.principal import Principal
from app.services.workflow import announce, new_id, onlooker


@dataclasses.dataclass(frozen=True, slots=True)
class BreakGlassOutcome:
    """The grant break-glass produced (`created`), or the one the person already had."""

    grant: Grant
    created: bool


class EmergencyService:
    """One per process; no state of its own. `policies` is the policy set in force now."""

    def __init__(
        self, *, policies: Callable[[], PolicySet], store: EmergencyStore, clock: Clock
    ) -> None:
        self._policies = policies
        self._store = store
        self._clock = clock

    async def sweep(self) -> tuple[int, int]:
        """Escalate due requests and report overdue break-glass reviews, each at most once
        whatever the number of replicas sweeping. Returns (escalated, reported overdue)."""
        now = self._clock()
        escalated = overdue = 0
        for request_id in await self._store.due_escalations(now):
            try:
                result = await self._store.update_request(
                    request_id,
                    lambda current: escalate(current, policy=self._policy_named(current), now=now),
                )
            except LookupError:
                await self._store.forget_due(request_id=request_id)
                continue
            announce(result.events)
            escalated += result.changed
        for grant_id in await self._store.due_break_glass_reviews(now):
            try:
                flagged = await self._store.update_grant(
                    grant_id, lambda current: report_overdue(current, now=now)
                )
            except LookupError:
                await self._store.forget_due(grant_id=grant_id)
                continue
            announce(flagged.events)
            overdue += flagged.changed
        return escalated, overdue

    async def break_glass(
        self,
        principal: Principal,
        *,
        application: str,
        context: AccessContext,
        justification: str | None,
        duration: timedelta | None,
    ) -> BreakGlassOutcome:
        """Grant the signed-in person access to `application` at once under the policy that
        matches them there, if it offers break-glass to them. Only the person themselves,
        signed in, may do this: never a service token, not even one acting for them."""
        if principal.token is not None:
            raise ScopeError("break-glass is for the person themselves, not a service token")
        person = principal.human()
        now = self._clock()
        app = self._policies().applications.get(application)
        if app is None:
            raise NotVisibleError(application)
        policy = first_match(app, dataclasses.replace(context, identity=person), now=now)
        if policy is None or policy.action is not Action.ALLOW or policy.break_glass is None:
            raise ApprovalError(ErrorCode.BREAK_GLASS_NOT_OFFERED, application)
        requester = core.Requester.from_context(dataclasses.replace(context, identity=person))
        grant_id = new_id("grt")

        def step(current: Grant | None) -> core.GrantTransition:
            return break_glass(
                grant_id=grant_id,
                application=app.id,
                policy=policy,
                identity=person,
                requester=requester,
                justification=justification,
                duration=duration,
                current=current,
                now=now,
            )

        scope = Scope.of(app.id, policy)
        opened = await self._store.open_break_glass(
            person=Person.of(person), scope=scope, step=step
        )
        announce(opened.events)
        return BreakGlassOutcome(grant=opened.grant, created=opened.changed)

    async def review(
        self, principal: Principal, grant_id: str, *, justified: bool, comment: str | None
    ) -> Grant:
        """Judge a break-glass use as justified or not (not: the grant is revoked if live)."""
        principal.require("requests:review")
        reviewer = principal.human()
        await self._visible(principal, grant_id)
        now = self._clock()
        verdict = Verdict.JUSTIFIED if justified else Verdict.NOT_JUSTIFIED

        def step(current: Grant) -> core.GrantTransition:
            judged = review_break_glass(
                current,
                reviewer=reviewer,
                policy=policy_named(self._policies(), current.application, current.policy),
                verdict=verdict,
                comment=comment,
                now=now,
            )
            return core.through_token(judged, principal.token)

        try:
            result = await self._store.update_grant(grant_id, step)
        except LookupError:
            raise NotVisibleError(grant_id) from None
        announce(result.events)
        return result.grant

    async def awaiting_review(self, principal: Principal) -> list[Grant]:
        """Break-glass uses awaiting review that the caller may see, soonest deadline first;
        never the caller's own (nobody reviews their own use)."""
        principal.require("requests:read")
        ids = await self._store.unreviewed_break_glass()
        grants = [await self._store.load_grant(i) for i in ids]
        me = principal.identity
        return [
            g
            for g in grants
            if g is not None and self._sees(principal, g) and not (me is not None and g.held_by(me))
        ]

    async def counts(self) -> tuple[int, int]:
        """(break-glass uses awaiting review, of which overdue), for /metrics."""
        return await self._store.break_glass_counts(self._clock())

    async def _visible(self, principal: Principal, grant_id: str) -> Grant:
        grant = await self._store.load_grant(grant_id)
        if grant is None or not self._sees(principal, grant):
            raise NotVisibleError(grant_id)
        return grant

    def _sees(self, principal: Principal, grant: Grant) -> bool:
        """Who sees a grant (core.approvals.visibility), and the fallback approvers of an
        overdue break-glass review, which it is escalated to."""
        if may_see_grant(onlooker(principal), grant, self._policies()):
            return True
        state, identity = grant.break_glass, principal.identity
        policy = policy_named(self._policies(), grant.application, grant.policy)
        if state is None or identity is None or policy is None or policy.approval is None:
            return False
        return state.overdue(self._clock()) and policy.approval.is_fallback_approver(identity)

    def _policy_named(self, request: core.AccessRequest) -> Policy | None:
        return policy_named(self._policies(), request.application, request.policy)
