"""What the parts of the approval service share: the ports they work through, how a caller is
judged (core.approvals.visibility), how a record is found for a caller, and how each recorded
event is announced in the service log."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

import structlog

from app.core.approvals import AccessRequest, ApprovalError, ErrorCode, Event, Grant
from app.core.approvals.visibility import (
    Onlooker,
    may_see_grant,
    may_see_request,
    policy_named,
)
from app.core.policy.model import Policy
from app.core.policy.policy_set import PolicySet
from app.services.errors import NotVisibleError
from app.services.ports import Clock, Listings, WorkflowStore
from app.services.principal import Principal

log = structlog.get_logger("countersign.approvals")

#: Free text people typed: kept in the audit log, never copied into the service log.
_NOT_LOGGED = frozenset({"justification", "prompt", "comment", "reason"})


def announce(events: Sequence[Event]) -> None:
    """One structured log line per recorded event (`request_submitted`, `request_approved`,
    `grant_revoked`, `grant_expired`, ...), so operators see the workflow in the service log
    and not only in the audit stream. Free text stays in the audit log only."""
    for event in events:
        details = {k: v for k, v in event.data.items() if k not in _NOT_LOGGED}
        log.info(
            event.type.value,
            application=event.application,
            user=event.user,
            actor=event.actor,
            request_id=event.request_id,
            grant_id=event.grant_id,
            **details,
        )


def new_id(prefix: str) -> str:
    """Unguessable ids: they appear in links and must not be enumerable."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


def onlooker(principal: Principal) -> Onlooker:
    """The caller as the visibility rules see them: the person, whether an admin, and whether
    a service token carries the call."""
    return Onlooker(
        identity=principal.identity,
        is_admin=principal.is_admin,
        via_token=principal.token is not None,
    )


class Workflow:
    """The approval service's dependencies; one per process, no state of its own."""

    def __init__(
        self,
        *,
        policies: Callable[[], PolicySet],
        store: WorkflowStore,
        listings: Listings,
        clock: Clock,
    ) -> None:
        self._policies = policies
        self._store = store
        self._listings = listings
        self._clock = clock

    async def _visible_request(self, principal: Principal, request_id: str) -> AccessRequest:
        """The request, if the caller may see it; else "not found", as if there were none."""
        request = await self._store.load_request(request_id)
        if request is None or not may_see_request(onlooker(principal), request, self._policies()):
            raise NotVisibleError(request_id)
        return request

    async def _visible_grant(self, principal: Principal, grant_id: str) -> Grant:
        """The grant, if the caller may see it; else "not found", as if there were none."""
        grant = await self._store.load_grant(grant_id)
        if grant is None or not may_see_grant(onlooker(principal), grant, self._policies()):
            raise NotVisibleError(grant_id)
        return grant

    def _policy_of(self, request: AccessRequest) -> Policy:
        """The policy `request` names, as the current set has it (policy-mismatch if gone)."""
        policy = policy_named(self._policies(), request.application, request.policy)
        if policy is None:
            raise ApprovalError(ErrorCode.POLICY_MISMATCH, request.policy)
        return policy
