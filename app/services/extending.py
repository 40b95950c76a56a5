"""Extending a grant: its holder asks for more time (an access request linked to the grant),
and eligible approvers review it as any other request; approved, the grant's end moves.

The review of an extension is judged on the stored request and the stored grant together, in
one store transaction (core.approvals.extending says what wins each race).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from app.core import approvals as core
from app.core.approvals import (
    AccessRequest,
    ApprovalError,
    ErrorCode,
    Grant,
    RequestStatus,
    RequestTransition,
    ReviewDecision,
)
from app.core.approvals.escalation import schedule
from app.core.approvals.extending import ask_extension, review_extension
from app.core.approvals.visibility import policy_named
from app.core.context import AccessContext
from app.services.principal import Principal
from app.services.resolving import Resolving
from app.services.workflow import announce, new_id


class Extending(Resolving):
    """Asking for an extension, and reviewing one (other requests are reviewed as before)."""

    def now(self) -> datetime:
        """The service's time, for answers that say how a record stands now (upcoming)."""
        return self._clock()

    async def request_extension(
        self,
        principal: Principal,
        grant_id: str,
        *,
        context: AccessContext,
        justification: str | None,
        duration: timedelta | None,
    ) -> tuple[AccessRequest, bool]:
        """Ask, as the grant's holder, to extend it; asking again returns the open extension
        request. Returns the request and whether it is new."""
        principal.require("requests:create")
        person = principal.human()
        grant = await self._visible_grant(principal, grant_id)
        policy = policy_named(self._policies(), grant.application, grant.policy)
        if policy is None:
            raise ApprovalError(ErrorCode.POLICY_MISMATCH, grant.policy)
        requester = core.Requester.from_context(dataclasses.replace(context, identity=person))
        request_id = new_id("req")
        now = self._clock()
        approval = policy.approval

        def step(existing: AccessRequest | None, current: Grant) -> RequestTransition:
            reused = core.reuse_open(existing, now)
            if reused is not None and reused.requester.is_requester(person):
                return RequestTransition(reused, ())
            asked = ask_extension(
                current,
                request_id=request_id,
                policy=policy,
                requester=requester,
                by=person,
                justification=justification,
                requested_duration=duration,
                now=now,
            )
            # escalate_after applies to an extension as to any request
            scheduled = schedule(asked, approval) if approval is not None else asked
            return core.through_token(scheduled, principal.token)

        result = await self._store.open_extension(grant.id, step)
        announce(result.events)
        return result.request, result.changed

    async def _review(
        self,
        principal: Principal,
        request_id: str,
        decision: ReviewDecision,
        duration: timedelta | None,
        comment: str | None,
    ) -> AccessRequest:
        request = await self._visible_request(principal, request_id)
        if request.extends is None:
            return await super()._review(principal, request_id, decision, duration, comment)
        principal.require("requests:review")
        person = principal.human()
        policy = self._policy_of(request)
        now = self._clock()

        def step(current: AccessRequest, grant: Grant) -> RequestTransition:
            if current.status is RequestStatus.PENDING and now >= current.expires_at:
                return core.expire_request(current, now=now)
            return review_extension(
                current,
                grant,
                reviewer=person,
                decision=decision,
                policy=policy,
                now=now,
                duration=duration,
                comment=comment,
                acting_token=principal.token,
            )

        result = await self._store.update_extension(request.id, step)
        announce(result.events)
        if (
            result.request.status is RequestStatus.EXPIRED
            and request.status is RequestStatus.PENDING
        ):
            raise ApprovalError(ErrorCode.REQUEST_EXPIRED)
        return result.request
