"""Reading requests and grants as the caller may see them: one by id, or a page of a listing.

Which records a caller sees is core.approvals.visibility's rule (the pages ask the same one);
where the records are and how a cursor reads is the store's (services.ports.Listings): this
module only turns the API's filters into a query.
"""

from __future__ import annotations

from app.core.approvals import AccessRequest, Grant, Person, RequestStatus
from app.core.approvals.visibility import may_review, may_see_grant, may_see_request
from app.services.ports import GrantQuery, Page, RequestQuery
from app.services.principal import Principal
from app.services.workflow import Workflow, onlooker


class Reading(Workflow):
    """Records by id and listings, filtered by who may see what."""

    async def get_request(self, principal: Principal, request_id: str) -> AccessRequest:
        """One request, if the caller may see it."""
        principal.require("requests:read")
        return await self._visible_request(principal, request_id)

    async def get_grant(self, principal: Principal, grant_id: str) -> Grant:
        """One grant, if the caller may see it."""
        principal.require("requests:read")
        return await self._visible_grant(principal, grant_id)

    async def list_requests(
        self,
        principal: Principal,
        *,
        status: RequestStatus | None = None,
        application: str | None = None,
        mine: bool = False,
        to_review: bool = False,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[AccessRequest]:
        """Requests the caller may see, newest first, filtered; `to_review`: only the pending
        ones the caller may review (never their own)."""
        principal.require("requests:read")
        me = principal.human() if mine else None
        who, policies = onlooker(principal), self._policies()

        def visible(request: AccessRequest) -> bool:
            # "To review" asks for the pending ones; another status then matches nothing.
            if to_review and status is not None and request.status is not status:
                return False
            if to_review and not may_review(who, request, policies):
                return False
            return may_see_request(who, request, policies)

        query = RequestQuery(
            visible=visible,
            requester=Person.of(me) if me is not None else None,
            status=RequestStatus.PENDING if to_review else status,
            application=application,
            cursor=cursor,
            limit=limit,
        )
        return await self._listings.requests(query)

    async def list_grants(
        self,
        principal: Principal,
        *,
        mine: bool = False,
        application: str | None = None,
        user: str | None = None,
        active: bool = False,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[Grant]:
        """Grants the caller may see, newest first; `active`: only those in force now."""
        principal.require("requests:read")
        me = principal.human() if mine else None
        who, policies = onlooker(principal), self._policies()
        query = GrantQuery(
            visible=lambda grant: may_see_grant(who, grant, policies),
            holder=Person.of(me) if me is not None else None,
            user=user,
            application=application,
            active_at=self._clock() if active else None,
            cursor=cursor,
            limit=limit,
        )
        return await self._listings.grants(query)
