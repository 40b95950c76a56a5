"""What a record shows about a retried call: whether the change the caller asked for is the one
the record holds, made by the caller. Used only when a keyed retry follows an attempt whose
outcome is unknown (`Attempt.settled`), to answer "done" rather than 409 for the caller's own
change; a change made by anyone else still answers 409."""

from __future__ import annotations

from collections.abc import Callable

from app.core.approvals import (
    AccessRequest,
    Grant,
    GrantStatus,
    Person,
    RequestStatus,
    ReviewDecision,
)
from app.services.principal import Principal


def revoked_by(principal: Principal) -> Callable[[Grant], bool]:
    """The grant was revoked (or ended) by the caller: the name the revocation records is the
    person's, or the token's when it acts alone."""
    actor = principal.identity.user if principal.identity is not None else principal.actor

    def done(grant: Grant) -> bool:
        return grant.status is GrantStatus.REVOKED and grant.revoked_by == actor

    return done


def reviewed_by(principal: Principal, decision: ReviewDecision) -> Callable[[AccessRequest], bool]:
    """The caller's last review of the request is `decision`, given the same way (the same
    person, through the same service token or none)."""
    identity = principal.identity

    def done(request: AccessRequest) -> bool:
        if identity is None:
            return False
        me = Person.of(identity)
        mine = [
            review
            for review in request.reviews
            if review.person == me and review.via_token == principal.token
        ]
        return bool(mine) and mine[-1].decision is decision

    return done


def cancelled_by(principal: Principal) -> Callable[[AccessRequest], bool]:
    """The request was cancelled, which only its requester can do: the caller."""
    identity = principal.identity

    def done(request: AccessRequest) -> bool:
        return (
            identity is not None
            and request.status is RequestStatus.CANCELLED
            and request.requester.is_requester(identity)
        )

    return done
