"""/api/v1/grants/{grant_id}/extend: the holder of a live grant asks for more time. The answer
is an access request (`extends` names the grant), reviewed with the same endpoints as any."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at
# runtime, and they name the authentication dependency built in the factory's scope.

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.adapters.api.v1.contexts import api_access_context
from app.adapters.api.v1.idempotency import Attempt
from app.adapters.api.v1.inputs import ExtensionBody, to_timedelta
from app.adapters.api.v1.problems import problem_responses
from app.adapters.api.v1.records import AccessRequestOut
from app.adapters.api.v1.requests_routes import RecordId
from app.core.policy.policy_set import PolicySet
from app.services.approvals import ApprovalService
from app.services.ports import ReadSignals
from app.services.principal import Principal


def add_extension_routes(
    router: APIRouter,
    *,
    approvals: ApprovalService,
    policies: Callable[[], PolicySet],
    signals: ReadSignals,
    authenticate: Callable[..., Awaitable[Principal]],
    idempotent: Callable[..., Awaitable[Attempt]],
) -> None:
    """Register the extension endpoint on `router`."""
    caller = Annotated[Principal, Depends(authenticate)]
    tags: list[str | Enum] = ["grants"]

    @router.post(
        "/grants/{grant_id}/extend",
        operation_id="extendGrant",
        summary="Ask for more time on your own live grant",
        description=(
            "Opens an access request linked to the grant (`extends`), reviewed like any other"
            " under the grant's policy. Approved, the grant's end moves by the approved"
            " duration. Asking again while one is open returns it (200). An approval after the"
            " grant has ended or been revoked is refused with 409 `grant-not-active`."
        ),
        status_code=201,
        response_model=AccessRequestOut,
        responses={
            200: {"description": "Nothing new: the open extension request for this grant"},
            **problem_responses(400, 403, 404, 409, 413),
        },
        dependencies=[Depends(idempotent)],
        tags=tags,
    )
    async def extend(
        grant_id: RecordId,
        body: ExtensionBody,
        principal: caller,
        request: Request,
        response: Response,
    ) -> AccessRequestOut:
        grant = await approvals.get_grant(principal, grant_id)
        context = api_access_context(
            request, principal, grant.application, policies=policies, signals=signals
        )
        asked, created = await approvals.request_extension(
            principal,
            grant.id,
            context=context,
            justification=body.justification,
            duration=to_timedelta(body.duration),
        )
        if not created:
            response.status_code = 200
        response.headers["location"] = f"/api/v1/access-requests/{asked.id}"
        return AccessRequestOut.of(asked)
