"""/api/v1/break-glass: use break-glass for yourself, list the uses awaiting review, and
review one (justified or not). Each route parses, calls the EmergencyService and serialises;
the service and the core decide who may do what."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at
# runtime, and they name the authentication dependency built in the factory's scope.

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict

from app.adapters.api.v1.contexts import api_access_context
from app.adapters.api.v1.idempotency import Attempt
from app.adapters.api.v1.inputs import Comment, DurationText, Justification, Name, to_timedelta
from app.adapters.api.v1.problems import problem_responses
from app.adapters.api.v1.records import GrantOut
from app.adapters.api.v1.requests_routes import RecordId
from app.core.policy.policy_set import PolicySet
from app.services.emergency import EmergencyService
from app.services.ports import ReadSignals
from app.services.principal import Principal


class BreakGlassBody(BaseModel):
    """Grant yourself access at once, in an emergency, with a reason: every channel hears of
    it and an approver reviews it afterwards."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "application": "grafana",
                    "justification": "INC-1234 paging storm",
                    "duration": "30m",
                }
            ]
        },
    )

    application: Name
    justification: Justification
    #: At most the policy's `break_glass.max_duration` (also the default).
    duration: DurationText | None = None


class BreakGlassReviewBody(BaseModel):
    """Judge a break-glass use: `justified` false revokes the grant if it is still live."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"justified": True, "comment": "INC-1234 confirmed"}]},
    )

    justified: bool
    comment: Comment | None = None


class BreakGlassOutcomeOut(BaseModel):
    """The break-glass grant (`created` true), or the grant you already had (`created` false)."""

    created: bool
    grant: GrantOut


class BreakGlassList(BaseModel):
    """Break-glass uses awaiting review that you may see, soonest deadline first."""

    items: list[GrantOut]


def add_break_glass_routes(
    router: APIRouter,
    *,
    emergency: EmergencyService,
    policies: Callable[[], PolicySet],
    signals: ReadSignals,
    authenticate: Callable[..., Awaitable[Principal]],
    idempotent: Callable[..., Awaitable[Attempt]],
) -> None:
    """Register the break-glass endpoints on `router`."""
    caller = Annotated[Principal, Depends(authenticate)]
    tags: list[str | Enum] = ["break-glass"]

    @router.post(
        "/break-glass",
        operation_id="useBreakGlass",
        summary="Grant yourself access at once, in an emergency (reviewed afterwards)",
        status_code=201,
        response_model=BreakGlassOutcomeOut,
        responses={
            200: {"description": "Nothing new: your grant in force under the same policy"},
            **problem_responses(400, 403, 404, 409, 413),
        },
        dependencies=[Depends(idempotent)],
        tags=tags,
    )
    async def use(
        body: BreakGlassBody, principal: caller, request: Request, response: Response
    ) -> BreakGlassOutcomeOut:
        outcome = await emergency.break_glass(
            principal,
            application=body.application,
            context=api_access_context(
                request, principal, body.application, policies=policies, signals=signals
            ),
            justification=body.justification,
            duration=to_timedelta(body.duration),
        )
        if not outcome.created:
            response.status_code = 200
        response.headers["location"] = f"/api/v1/grants/{outcome.grant.id}"
        return BreakGlassOutcomeOut(created=outcome.created, grant=GrantOut.of(outcome.grant))

    @router.get(
        "/break-glass",
        operation_id="listBreakGlassAwaitingReview",
        summary="Break-glass uses awaiting review that you may see",
        response_model=BreakGlassList,
        responses=problem_responses(403),
        tags=tags,
    )
    async def awaiting(principal: caller) -> BreakGlassList:
        grants = await emergency.awaiting_review(principal)
        return BreakGlassList(items=[GrantOut.of(g) for g in grants])

    @router.post(
        "/grants/{grant_id}/break-glass-review",
        operation_id="reviewBreakGlass",
        summary="Judge a break-glass use (approvers); not justified revokes it",
        response_model=GrantOut,
        responses=problem_responses(400, 403, 404, 409),
        dependencies=[Depends(idempotent)],
        tags=tags,
    )
    async def review(grant_id: RecordId, body: BreakGlassReviewBody, principal: caller) -> GrantOut:
        grant = await emergency.review(
            principal, grant_id, justified=body.justified, comment=body.comment
        )
        return GrantOut.of(grant)
