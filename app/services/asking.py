"""Asking for access: open a request (or, under a justification-only policy, a justified
session), or find what the person already has under the policy they would be judged by.

One open request and one grant in force per (person, application, policy): asking again
returns the open request, or the grant when one is in force, never a second one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core import approvals as core
from app.core.approvals import (
    AccessRequest,
    ApprovalError,
    ErrorCode,
    Grant,
    GrantTransition,
    Person,
    RequestTransition,
    Scope,
)
from app.core.approvals.escalation import schedule
from app.core.approvals.windows import plan
from app.core.context import AccessContext
from app.core.policy.evaluate import first_match
from app.core.policy.model import Action, Application, Policy
from app.services.errors import NotRequestable, NotRequestableError, NotVisibleError
from app.services.principal import Principal
from app.services.workflow import Workflow, announce, new_id


@dataclass(frozen=True, slots=True)
class AccessOutcome:
    """What asking for access produced: a new request or justified session (`created`), or,
    with `created` false, what the person already has for that policy: the open request, or
    the grant (approved or justified) in force, which asking again never duplicates."""

    request: AccessRequest | None = None
    grant: Grant | None = None
    created: bool = True


class Asking(Workflow):
    """Asking for access as the signed-in person."""

    async def request_access(
        self,
        principal: Principal,
        *,
        application: str,
        context: AccessContext,
        justification: str | None,
        duration: timedelta | None,
        starts_at: datetime | None = None,
    ) -> AccessOutcome:
        """Ask for access to `application` as the signed-in person, judged in `context`,
        from now on or (`starts_at`) for a planned window later (core.approvals.windows).

        One open request and one grant in force per (person, application, policy): asking
        again returns the open request, or the grant when one is in force (an upcoming one
        included).
        """
        principal.require("requests:create")
        person = principal.human()
        now = self._clock()
        app, policy = self._requestable(application, context, now)
        who, scope = Person.of(person), Scope.of(app.id, policy)
        # The requester is always the caller, whatever identity the context came with.
        requester = core.Requester.from_context(dataclasses.replace(context, identity=person))
        if policy.approval is None:
            if starts_at is not None:  # a reason opens access now; there is nothing to plan
                raise ApprovalError(ErrorCode.POLICY_NEEDS_NO_APPROVAL, policy.name)
            grant_id = new_id("grt")

            def justify(current: Grant | None) -> GrantTransition:
                kept = core.in_force(current, scope, now)
                if kept is not None:
                    return GrantTransition(kept, ())
                justified = core.justify(
                    grant_id=grant_id,
                    application=app.id,
                    policy=policy,
                    requester=requester,
                    justification=justification,
                    now=now,
                )
                return core.through_token(justified, principal.token)

            opened = await self._store.open_grant(person=who, scope=scope, step=justify)
            announce(opened.events)
            return AccessOutcome(grant=opened.grant, created=opened.changed)

        request_id = new_id("req")
        approval = policy.approval

        def step(existing: AccessRequest | None, active: Grant | None) -> RequestTransition | Grant:
            held = core.in_force(active, scope, now)
            if held is not None:
                return held
            reused = core.reuse_open(existing, now)
            if reused is not None:
                return RequestTransition(reused, ())
            submitted = core.submit(
                request_id=request_id,
                application=app.id,
                policy=policy,
                requester=requester,
                justification=justification,
                requested_duration=duration,
                now=now,
            )
            planned = plan(submitted, starts_at=starts_at, approval=approval, now=now)
            scheduled = schedule(planned, approval)  # escalate_after, if the policy sets it
            return core.through_token(scheduled, principal.token)

        result = await self._store.open_request(person=who, scope=scope, step=step)
        if isinstance(result, Grant):
            return AccessOutcome(grant=result, created=False)
        announce(result.events)
        return AccessOutcome(request=result.request, created=result.changed)

    async def standing(
        self, principal: Principal, *, application: str, context: AccessContext
    ) -> AccessOutcome:
        """What the signed-in person already has under the policy `context` would be judged by:
        the open request and the grant in force (either may be None; `created` is false)."""
        principal.require("requests:read")
        person = principal.human()
        now = self._clock()
        app, policy = self._requestable(application, context, now)
        scope = Scope.of(app.id, policy)
        request, grant = await self._store.standing(Person.of(person), scope)
        return AccessOutcome(
            request=core.reuse_open(request, now) if request is not None else None,
            grant=core.in_force(grant, scope, now),
            created=False,
        )

    def _requestable(
        self, application: str, context: AccessContext, now: datetime
    ) -> tuple[Application, Policy]:
        app = self._policies().applications.get(application)
        if app is None:
            raise NotVisibleError(application)
        policy = first_match(app, context, now=now)
        if policy is None or policy.action is not Action.ALLOW:
            raise NotRequestableError(NotRequestable.NO_POLICY_ALLOWS)
        if policy.approval is None and policy.justification is None:
            raise NotRequestableError(NotRequestable.NEEDS_NO_REQUEST)
        return app, policy
