"""/api/v1/grants: list, show and revoke grants (the holder may end their own early)."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at
# runtime, and they name the authentication dependency built in the factory's scope.

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.adapters.api.v1.idempotency import Attempt
from app.adapters.api.v1.inputs import MAX_COMMENT
from app.adapters.api.v1.problems import problem_responses
from app.adapters.api.v1.records import GrantOut, GrantPage
from app.adapters.api.v1.requests_routes import Cursor, Filter, Limit, RecordId
from app.adapters.api.v1.retries import revoked_by
from app.core.approvals import ApprovalError
from app.services.approvals import ApprovalService
from app.services.principal import Principal


def add_grant_routes(
    router: APIRouter,
    *,
    approvals: ApprovalService,
    authenticate: Callable[..., Awaitable[Principal]],
    idempotent: Callable[..., Awaitable[Attempt]],
) -> None:
    """Register the grant endpoints on `router`; `idempotent` is the Idempotency-Key
    dependency of revocation."""
    caller = Annotated[Principal, Depends(authenticate)]
    keyed = Annotated[Attempt, Depends(idempotent)]
    tags: list[str | Enum] = ["grants"]

    @router.get(
        "/grants",
        operation_id="listGrants",
        summary="Grants you may see, newest first",
        response_model=GrantPage,
        responses=problem_responses(403),
        tags=tags,
    )
    async def list_grants(
        *,
        principal: caller,
        mine: Annotated[bool, Query(description="only your own grants")] = False,
        application: Filter = None,
        user: Annotated[
            str | None, Query(min_length=1, max_length=256, description="one user's grants")
        ] = None,
        active: Annotated[
            bool,
            Query(description="only live grants: in force now, or planned and not yet begun"),
        ] = False,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> GrantPage:
        page = await approvals.list_grants(
            principal,
            mine=mine,
            application=application,
            user=user,
            active=active,
            cursor=cursor,
            limit=limit,
        )
        now = approvals.now()
        return GrantPage(
            items=[GrantOut.of(g, now=now) for g in page.items], next_cursor=page.next_cursor
        )

    @router.get(
        "/grants/{grant_id}",
        operation_id="getGrant",
        summary="One grant",
        response_model=GrantOut,
        responses=problem_responses(403, 404),
        tags=tags,
    )
    async def get_grant(grant_id: RecordId, principal: caller) -> GrantOut:
        return GrantOut.of(await approvals.get_grant(principal, grant_id), now=approvals.now())

    @router.delete(
        "/grants/{grant_id}",
        operation_id="revokeGrant",
        summary="Revoke a grant (approvers, admins), or end your own early",
        response_model=GrantOut,
        responses=problem_responses(400, 403, 404, 409),
        tags=tags,
    )
    async def revoke(
        grant_id: RecordId,
        principal: caller,
        attempt: keyed,
        reason: Annotated[
            str | None, Query(max_length=MAX_COMMENT, description="why, for the audit log")
        ] = None,
    ) -> GrantOut:
        try:
            grant = await approvals.revoke(principal, grant_id, reason=reason)
        except ApprovalError as refused:
            # A keyed retry of a revocation whose first attempt took effect: done, not 409.
            grant = await attempt.settled(
                refused, lambda: approvals.get_grant(principal, grant_id), revoked_by(principal)
            )
        return GrantOut.of(grant)
