"""/api/v1/audit, /api/v1/policies and /api/v1/decisions/explain: what admins (and service
tokens with `audit:read`, for the log) use to see what Countersign did and would do."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at
# runtime, and they name the authentication dependency built in the factory's scope.

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.adapters.api.v1.auth import require_admin, require_audit_reader
from app.adapters.api.v1.explain import ExplainBody, ExplainOut, context_of
from app.adapters.api.v1.oversight import AuditEntryOut, AuditPage, PoliciesOut
from app.adapters.api.v1.problems import problem_responses
from app.adapters.api.v1.requests_routes import Filter, Limit
from app.adapters.store.audit import ENTRY_ID, AuditEntry, AuditQuery
from app.core.policy.evaluate import evaluate
from app.core.policy.policy_set import PolicySet
from app.services.policy_repository import PolicyStatus
from app.services.principal import Principal
from app.services.sample_requests import grant_state

ReadAudit = Callable[[AuditQuery], Awaitable[tuple[list[AuditEntry], str | None]]]


def add_admin_routes(
    router: APIRouter,
    *,
    policies: Callable[[], PolicySet],
    policy_status: Callable[[], PolicyStatus],
    read_audit: ReadAudit,
    clock: Callable[[], datetime],
    authenticate: Callable[..., Awaitable[Principal]],
    idempotent: Callable[..., Awaitable[object]],
) -> None:
    """Register the admin endpoints on `router`; `idempotent` is the Idempotency-Key
    dependency of the POSTs (explaining changes nothing, but every POST takes the header)."""
    caller = Annotated[Principal, Depends(authenticate)]
    tags: list[str | Enum] = ["administration"]

    @router.get(
        "/audit",
        operation_id="listAuditEntries",
        summary="The audit log, newest first",
        response_model=AuditPage,
        responses=problem_responses(403),
        tags=tags,
    )
    async def list_audit_entries(
        *,
        principal: caller,
        application: Filter = None,
        user: Filter = None,
        type: Annotated[
            str | None, Query(pattern=r"^[a-z_]{1,64}$", description="event type")
        ] = None,
        since: Annotated[datetime | None, Query(description="written at or after")] = None,
        until: Annotated[datetime | None, Query(description="written at or before")] = None,
        cursor: Annotated[str | None, Query(pattern=ENTRY_ID.pattern)] = None,
        limit: Limit = 50,
    ) -> AuditPage:
        require_audit_reader(principal)
        query = AuditQuery(
            before=cursor,
            limit=limit,
            since=_utc(since),
            until=_utc(until),
            application=application,
            user=user,
            type=type,
        )
        entries, next_cursor = await read_audit(query)
        return AuditPage(items=[AuditEntryOut.of(e) for e in entries], next_cursor=next_cursor)

    @router.get(
        "/policies",
        operation_id="getPolicies",
        summary="The policy set in force, its status and reload errors",
        response_model=PoliciesOut,
        responses=problem_responses(403),
        tags=tags,
    )
    async def get_policies(principal: caller) -> PoliciesOut:
        require_admin(principal)
        return PoliciesOut.of(policy_status(), policies())

    @router.post(
        "/decisions/explain",
        operation_id="explainDecision",
        summary="What would be decided for a hypothetical request, rule by rule",
        response_model=ExplainOut,
        responses=problem_responses(400, 403, 409, 413),
        dependencies=[Depends(idempotent)],
        tags=tags,
    )
    async def explain_decision(body: ExplainBody, principal: caller) -> ExplainOut:
        require_admin(principal)
        now = body.now or clock()
        context = context_of(body)
        grants = grant_state(body.grant, pending=body.pending, now=now)
        decision = evaluate(policies(), context, grants=grants, now=now, explain=True)
        return ExplainOut.of(decision, context, now)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
