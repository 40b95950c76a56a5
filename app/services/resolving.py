"""Acting on a request or a grant: approve and deny (eligible approvers, never one's own
request), cancel (the requester), revoke (approvers and admins; the holder ends their own).

Every action first finds the record as the caller may see it ("not found" otherwise), then
hands a pure transition from app.core.approvals to the store, which judges it again on the
stored record, atomically.
"""

from __future__ import annotations

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
from app.core.approvals.extending import lapse_extension
from app.core.approvals.visibility import may_revoke_as_approver, oversees
from app.core.approvals.windows import in_window
from app.core.context import Identity
from app.services.principal import Principal
from app.services.workflow import Workflow, announce, log, new_id, onlooker

#: The issuer of a service token acting alone: no person has it, so it never holds a grant.
TOKEN_ISSUER = "urn:countersign:service-token"  # noqa: S105  (a name, not a secret)


class Resolving(Workflow):
    """Reviews, cancellations and revocations."""

    async def approve(
        self,
        principal: Principal,
        request_id: str,
        *,
        duration: timedelta | None,
        comment: str | None,
    ) -> AccessRequest:
        """Approve as an eligible approver (never one's own request)."""
        return await self._review(principal, request_id, ReviewDecision.APPROVE, duration, comment)

    async def deny(
        self, principal: Principal, request_id: str, *, comment: str | None
    ) -> AccessRequest:
        """Deny as an eligible approver; any eligible deny ends the request."""
        return await self._review(principal, request_id, ReviewDecision.DENY, None, comment)

    async def _review(
        self,
        principal: Principal,
        request_id: str,
        decision: ReviewDecision,
        duration: timedelta | None,
        comment: str | None,
    ) -> AccessRequest:
        principal.require("requests:review")
        person = principal.human()
        request = await self._visible_request(principal, request_id)
        policy = self._policy_of(request)
        grant_id = new_id("grt")
        now = self._clock()

        def step(current: AccessRequest) -> RequestTransition:
            if current.status is RequestStatus.PENDING and now >= current.expires_at:
                return core.expire_request(current, now=now)
            return in_window(
                core.review(
                    current,
                    reviewer=person,
                    decision=decision,
                    policy=policy,
                    now=now,
                    grant_id=grant_id,
                    duration=duration,
                    comment=comment,
                    acting_token=principal.token,
                ),
                now=now,
            )

        result = await self._store.update_request(request.id, step)
        announce(result.events)
        if (
            result.request.status is RequestStatus.EXPIRED
            and request.status is RequestStatus.PENDING
        ):
            raise ApprovalError(ErrorCode.REQUEST_EXPIRED)
        return result.request

    async def cancel(self, principal: Principal, request_id: str) -> AccessRequest:
        """The requester withdraws a pending request."""
        principal.require("requests:create")
        person = principal.human()
        request = await self._visible_request(principal, request_id)
        now = self._clock()
        result = await self._store.update_request(
            request.id,
            lambda current: core.through_token(
                core.cancel(current, by=person, now=now), principal.token
            ),
        )
        announce(result.events)
        return result.request

    async def revoke(self, principal: Principal, grant_id: str, *, reason: str | None) -> Grant:
        """Approvers and admins revoke; the holder may end their own early."""
        principal.require("grants:revoke")
        grant = await self._visible_grant(principal, grant_id)
        now = self._clock()
        who = onlooker(principal)
        is_admin = oversees(who)
        actor = principal.identity or _token_identity(principal)
        is_approver = may_revoke_as_approver(who, grant, self._policies())
        result = await self._store.update_grant(
            grant.id,
            lambda current: core.through_token(
                core.revoke(
                    current,
                    by=actor,
                    is_admin=is_admin,
                    is_approver=is_approver,
                    now=now,
                    reason=reason,
                ),
                principal.token,
            ),
        )
        announce(result.events)
        await self._lapse_extension(result.grant, now)
        return result.grant

    async def _lapse_extension(self, grant: Grant, now: datetime) -> None:
        """The ended grant's open extension request stops waiting (core `lapse_extension`). A
        transition of its own, after the revoke: should it fail, the revoke stands and the
        request lapses at the grant's old end as before (its approval is refused meanwhile)."""
        request_id = await self._store.open_extension_id(grant.id)
        if request_id is None:
            return
        try:
            lapsed = await self._store.update_extension(
                request_id, lambda request, current: lapse_extension(request, current, now=now)
            )
        except Exception as exc:  # the revoke is done; this is tidying after it
            log.warning("extension_not_lapsed", grant_id=grant.id, problem=str(exc)[:200])
            return
        announce(lapsed.events)


def _token_identity(principal: Principal) -> Identity:
    """A service token acting alone is named in the audit log by its token name."""
    return Identity(subject=principal.actor, email=None, issuer=TOKEN_ISSUER)
