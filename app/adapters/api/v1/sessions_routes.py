"""/api/v1/sessions/revoke: admins end every Countersign session of one person, on every
replica (a per-person "not before"; see docs/adr/0007-sessions.md)."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at
# runtime, and they name the authentication dependency built in the factory's scope.

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from app.adapters.api.v1.auth import require_admin
from app.adapters.api.v1.inputs import Name
from app.adapters.api.v1.problems import ProblemError, problem_responses
from app.core.approvals.person import Person
from app.services.principal import Principal

#: Ends every session of a person issued until now, recording who did it; returns that time.
EndSessions = Callable[[Person, str], Awaitable[datetime]]


class SessionsRevocation(BaseModel):
    """The person whose sessions end: the identity provider's issuer and subject."""

    model_config = ConfigDict(extra="forbid")

    issuer: Name
    subject: Name


class SessionsRevoked(BaseModel):
    """Sessions of this person issued before `not_before` are refused from now on."""

    issuer: str
    subject: str
    not_before: datetime


def add_session_routes(
    router: APIRouter,
    *,
    end_sessions: EndSessions | None,
    authenticate: Callable[..., Awaitable[Principal]],
    idempotent: Callable[..., Awaitable[object]],
) -> None:
    """Register the session endpoints on `router`; `end_sessions` None means sessions are off;
    `idempotent` is the Idempotency-Key dependency."""
    caller = Annotated[Principal, Depends(authenticate)]
    tags: list[str | Enum] = ["administration"]

    @router.post(
        "/sessions/revoke",
        operation_id="revokeSessions",
        summary="End every Countersign session of one person (admins)",
        response_model=SessionsRevoked,
        responses=problem_responses(400, 403, 409),
        dependencies=[Depends(idempotent)],
        tags=tags,
    )
    async def revoke_sessions(body: SessionsRevocation, principal: caller) -> SessionsRevoked:
        require_admin(principal)
        if end_sessions is None:
            raise ProblemError(
                409, "sessions-off", "this Countersign issues no sessions (no session key)"
            )
        person = Person(body.issuer, body.subject)
        at = await end_sessions(person, principal.actor)
        return SessionsRevoked(issuer=person.issuer, subject=person.subject, not_before=at)
