"""/api/v1/access-requests: ask, list, show, approve, deny, cancel. Each route parses, calls
the ApprovalService and serialises; the service decides who may do what."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at
# runtime, and they name the authentication dependency built in the factory's scope.

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from app.adapters.api.v1.contexts import api_access_context
from app.adapters.api.v1.idempotency import Attempt
from app.adapters.api.v1.inputs import ApprovalBody, DenialBody, NewAccessRequest, to_timedelta
from app.adapters.api.v1.problems import problem_responses, step_up_problem
from app.adapters.api.v1.records import (
    AccessOutcomeOut,
    AccessRequestOut,
    AccessRequestPage,
    GrantOut,
)
from app.adapters.api.v1.retries import cancelled_by, reviewed_by
from app.adapters.api.v1.times import to_moment
from app.adapters.step_up import StepUpLinks
from app.core.approvals import (
    AccessRequest,
    ApprovalError,
    RequestStatus,
    ReviewDecision,
    StepUpRequiredError,
)
from app.core.policy.policy_set import PolicySet
from app.services.approvals import ApprovalService
from app.services.ports import ReadSignals
from app.services.principal import Principal

RecordId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The record's id, e.g. `req_...`")
]
Cursor = Annotated[str | None, Query(max_length=64, description="`next_cursor` of a page")]
Limit = Annotated[int, Query(ge=1, le=200)]
Filter = Annotated[str | None, Query(min_length=1, max_length=256)]
_PREFIX = "/api/v1/access-requests"


def add_request_routes(
    router: APIRouter,
    *,
    approvals: ApprovalService,
    policies: Callable[[], PolicySet],
    signals: ReadSignals,
    authenticate: Callable[..., Awaitable[Principal]],
    idempotent: Callable[..., Awaitable[Attempt]],
    step_up: StepUpLinks,
    mfa_acr_values: str | None = None,
) -> None:
    """Register the access-request endpoints on `router`. `idempotent` is the Idempotency-Key
    dependency of the state-changing ones; `step_up` makes the sign-in link of a
    `step-up-required` answer; `mfa_acr_values`, when the provider has an ACR for MFA, goes
    into its RFC 9470 challenge."""
    caller = Annotated[Principal, Depends(authenticate)]
    keyed = Annotated[Attempt, Depends(idempotent)]
    tags: list[str | Enum] = ["access requests"]

    @router.post(
        "/access-requests",
        operation_id="createAccessRequest",
        summary="Ask for access to an application for yourself",
        status_code=201,
        response_model=AccessOutcomeOut,
        responses={
            200: {
                "description": (
                    "Nothing new: your open request for this application, or your grant in"
                    " force under the same policy (`created` false)"
                )
            },
            **problem_responses(400, 403, 404, 409, 413),
        },
        dependencies=[Depends(idempotent)],
        tags=tags,
    )
    async def create(
        body: NewAccessRequest, principal: caller, request: Request, response: Response
    ) -> AccessOutcomeOut:
        duration = to_timedelta(body.duration)
        context = api_access_context(
            request, principal, body.application, policies=policies, signals=signals
        )
        outcome = await approvals.request_access(
            principal,
            application=body.application,
            context=context,
            justification=body.justification,
            duration=duration,
            starts_at=to_moment(body.starts_at),
        )
        if not outcome.created:
            response.status_code = 200
        if outcome.request is not None:
            response.headers["location"] = f"{_PREFIX}/{outcome.request.id}"
        return AccessOutcomeOut(
            created=outcome.created,
            request=AccessRequestOut.of(outcome.request) if outcome.request else None,
            grant=GrantOut.of(outcome.grant, now=approvals.now()) if outcome.grant else None,
        )

    @router.get(
        "/access-requests",
        operation_id="listAccessRequests",
        summary="Requests you may see, newest first",
        response_model=AccessRequestPage,
        responses=problem_responses(403),
        tags=tags,
    )
    async def list_requests(
        *,
        principal: caller,
        status: RequestStatus | None = None,
        application: Filter = None,
        mine: Annotated[bool, Query(description="only your own requests")] = False,
        to_review: Annotated[bool, Query(description="only pending ones you may review")] = False,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> AccessRequestPage:
        page = await approvals.list_requests(
            principal,
            status=status,
            application=application,
            mine=mine,
            to_review=to_review,
            cursor=cursor,
            limit=limit,
        )
        return AccessRequestPage(
            items=[AccessRequestOut.of(r) for r in page.items], next_cursor=page.next_cursor
        )

    @router.get(
        "/access-requests/{request_id}",
        operation_id="getAccessRequest",
        summary="One request, with its reviews",
        response_model=AccessRequestOut,
        responses=problem_responses(403, 404),
        tags=tags,
    )
    async def get_request(request_id: RecordId, principal: caller) -> AccessRequestOut:
        return AccessRequestOut.of(await approvals.get_request(principal, request_id))

    @router.post(
        "/access-requests/{request_id}/approve",
        operation_id="approveAccessRequest",
        summary="Approve as an eligible approver (never your own request)",
        description=(
            "When the request's policy sets `reviewers_need` and your sign-in does not meet it"
            " (no MFA, or older than `max_auth_age`), the answer is 401 `step-up-required` with"
            " an RFC 9470 `WWW-Authenticate` challenge, `step_up` (what is needed) and"
            " `sign_in_url` (sign in again there; it leads back to the review page)."
            " Denying never needs a fresh sign-in."
        ),
        response_model=AccessRequestOut,
        responses=problem_responses(400, 403, 404, 409, 413),
        tags=tags,
    )
    async def approve(
        request_id: RecordId,
        principal: caller,
        attempt: keyed,
        body: Annotated[ApprovalBody | None, Body()] = None,
    ) -> AccessRequestOut:
        given = body or ApprovalBody()
        try:
            request = await approvals.approve(
                principal, request_id, duration=to_timedelta(given.duration), comment=given.comment
            )
        except StepUpRequiredError as error:
            # Raised only to a listed approver of a visible, pending request: the link to its
            # review page tells them nothing new.
            link = step_up.sign_in_to_review(request_id, mfa=error.mfa, max_age=error.max_age)
            raise step_up_problem(error, sign_in_url=link, acr_values=mfa_acr_values) from error
        except ApprovalError as refused:
            request = await settled(attempt, refused, principal, request_id, ReviewDecision.APPROVE)
        return AccessRequestOut.of(request)

    @router.post(
        "/access-requests/{request_id}/deny",
        operation_id="denyAccessRequest",
        summary="Deny as an eligible approver, saying why",
        response_model=AccessRequestOut,
        responses=problem_responses(400, 403, 404, 409, 413),
        tags=tags,
    )
    async def deny(
        request_id: RecordId, body: DenialBody, principal: caller, attempt: keyed
    ) -> AccessRequestOut:
        try:
            request = await approvals.deny(principal, request_id, comment=body.comment)
        except ApprovalError as refused:
            request = await settled(attempt, refused, principal, request_id, ReviewDecision.DENY)
        return AccessRequestOut.of(request)

    @router.post(
        "/access-requests/{request_id}/cancel",
        operation_id="cancelAccessRequest",
        summary="Withdraw your own pending request",
        response_model=AccessRequestOut,
        responses=problem_responses(400, 403, 404, 409),
        tags=tags,
    )
    async def cancel(request_id: RecordId, principal: caller, attempt: keyed) -> AccessRequestOut:
        try:
            request = await approvals.cancel(principal, request_id)
        except ApprovalError as refused:
            request = await attempt.settled(
                refused,
                lambda: approvals.get_request(principal, request_id),
                cancelled_by(principal),
            )
        return AccessRequestOut.of(request)

    async def settled(
        attempt: Attempt,
        refused: ApprovalError,
        principal: Principal,
        request_id: str,
        decision: ReviewDecision,
    ) -> AccessRequest:
        # A keyed retry of a review whose first attempt took effect answers with the request.
        return await attempt.settled(
            refused,
            lambda: approvals.get_request(principal, request_id),
            reviewed_by(principal, decision),
        )
