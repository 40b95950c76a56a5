"""The second opinion as a service: ask for access, review, cancel, revoke, list, and expire.

Each operation loads what it needs, finds the policy in the current policy set, and hands a
pure transition from app.core.approvals to the store, which applies it atomically with its
audit and outbox entries. Visibility: a request is shown to its requester, to the approvers
its policy lists, and to admins; anyone else gets "not found". A person is (issuer, subject):
"mine", "my own request" and "my own grant" compare that, never the e-mail.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

import structlog

from app.core import approvals as core
from app.core.approvals import (
    AccessRequest,
    ApprovalError,
    ErrorCode,
    Event,
    Grant,
    GrantTransition,
    Person,
    RequestStatus,
    RequestTransition,
    ReviewDecision,
    Scope,
)
from app.core.context import AccessContext, Identity
from app.core.policy.evaluate import first_match
from app.core.policy.model import Action, Application, Policy
from app.core.policy.policy_set import PolicySet
from app.services.errors import (
    BadCursorError,
    NotRequestable,
    NotRequestableError,
    NotVisibleError,
)
from app.services.ports import Clock
from app.services.principal import Principal

log = structlog.get_logger("countersign.approvals")
T = TypeVar("T")


class _Record(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_Record)


class WorkflowStore(Protocol):
    """What the service needs from storage (implemented over Redis in adapters.store)."""

    async def load_request(self, request_id: str) -> AccessRequest | None: ...
    async def load_grant(self, grant_id: str) -> Grant | None: ...
    async def load_requests(self, ids: Sequence[str]) -> list[AccessRequest]: ...
    async def load_grants(self, ids: Sequence[str]) -> list[Grant]: ...
    async def request_ids(
        self,
        *,
        index: str,
        newest_first: bool = True,
        before: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[tuple[str, float]]: ...
    async def due_requests(self, now: datetime, *, limit: int = 500) -> list[str]: ...
    async def due_grants(self, now: datetime, *, limit: int = 500) -> list[str]: ...
    async def open_request(
        self,
        *,
        person: Person,
        scope: Scope,
        step: Callable[[AccessRequest | None, Grant | None], RequestTransition | Grant],
    ) -> RequestTransition | Grant: ...
    async def standing(
        self, person: Person, scope: Scope
    ) -> tuple[AccessRequest | None, Grant | None]: ...
    async def update_request(
        self, request_id: str, step: Callable[[AccessRequest], RequestTransition]
    ) -> RequestTransition: ...
    async def open_grant(
        self, *, person: Person, scope: Scope, step: Callable[[Grant | None], GrantTransition]
    ) -> GrantTransition: ...
    async def update_grant(
        self, grant_id: str, step: Callable[[Grant], GrantTransition]
    ) -> GrantTransition: ...


class Indexes(Protocol):
    """Names of the store's listing indexes (adapters.store.keys provides them)."""

    requests: str
    pending: str
    grants: str
    active_grants: str

    def person_requests(self, person: Person) -> str: ...
    def person_grants(self, person: Person) -> str: ...
    def user_grants(self, user: str) -> str: ...
    def application_grants(self, application: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; pass `next_cursor` back to get the next one (None: the end)."""

    items: tuple[T, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class AccessOutcome:
    """What asking for access produced: a new request or justified session (`created`), or,
    with `created` false, what the person already has for that policy: the open request, or
    the grant (approved or justified) in force, which asking again never duplicates."""

    request: AccessRequest | None = None
    grant: Grant | None = None
    created: bool = True


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


class ApprovalService:
    """One per process; holds no state of its own."""

    def __init__(
        self,
        *,
        policies: Callable[[], PolicySet],
        store: WorkflowStore,
        indexes: Indexes,
        clock: Clock,
    ) -> None:
        self._policies = policies
        self._store = store
        self._indexes = indexes
        self._clock = clock

    # -- asking -----------------------------------------------------------------------------
    async def request_access(
        self,
        principal: Principal,
        *,
        application: str,
        context: AccessContext,
        justification: str | None,
        duration: timedelta | None,
    ) -> AccessOutcome:
        """Ask for access to `application` as the signed-in person, judged in `context`.

        One open request and one grant in force per (person, application, policy): asking
        again returns the open request, or the grant when one is in force.
        """
        person = principal.human()
        now = self._clock()
        app, policy = self._requestable(application, context, now)
        who, scope = Person.of(person), Scope.of(app.id, policy)
        # The requester is always the caller, whatever identity the context came with.
        requester = core.Requester.from_context(dataclasses.replace(context, identity=person))
        if policy.approval is None:
            grant_id = new_id("grt")

            def justify(current: Grant | None) -> GrantTransition:
                kept = core.in_force(current, scope, now)
                if kept is not None:
                    return GrantTransition(kept, ())
                return core.justify(
                    grant_id=grant_id,
                    application=app.id,
                    policy=policy,
                    requester=requester,
                    justification=justification,
                    now=now,
                )

            opened = await self._store.open_grant(person=who, scope=scope, step=justify)
            announce(opened.events)
            return AccessOutcome(grant=opened.grant, created=opened.changed)

        request_id = new_id("req")

        def step(existing: AccessRequest | None, active: Grant | None) -> RequestTransition | Grant:
            held = core.in_force(active, scope, now)
            if held is not None:
                return held
            reused = core.reuse_open(existing, now)
            if reused is not None:
                return RequestTransition(reused, ())
            return core.submit(
                request_id=request_id,
                application=app.id,
                policy=policy,
                requester=requester,
                justification=justification,
                requested_duration=duration,
                now=now,
            )

        result = await self._store.open_request(person=who, scope=scope, step=step)
        if isinstance(result, Grant):
            return AccessOutcome(grant=result, created=False)
        announce(result.events)
        return AccessOutcome(request=result.request, created=result.changed)

    async def standing(
        self, principal: Principal, *, application: str, context: AccessContext
    ) -> AccessOutcome:
        """What the signed-in person already has under the policy `context` would be judged by:
        the open request and the grant in force (either may be None; `created` is false)."""
        person = principal.human()
        now = self._clock()
        app, policy = self._requestable(application, context, now)
        scope = Scope.of(app.id, policy)
        request, grant = await self._store.standing(Person.of(person), scope)
        return AccessOutcome(
            request=core.reuse_open(request, now) if request is not None else None,
            grant=core.in_force(grant, scope, now),
            created=False,
        )

    def _requestable(
        self, application: str, context: AccessContext, now: datetime
    ) -> tuple[Application, Policy]:
        app = self._policies().applications.get(application)
        if app is None:
            raise NotVisibleError(application)
        policy = first_match(app, context, now=now)
        if policy is None or policy.action is not Action.ALLOW:
            raise NotRequestableError(NotRequestable.NO_POLICY_ALLOWS)
        if policy.approval is None and policy.justification is None:
            raise NotRequestableError(NotRequestable.NEEDS_NO_REQUEST)
        return app, policy

    # -- reviewing --------------------------------------------------------------------------
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
            return core.review(
                current,
                reviewer=person,
                decision=decision,
                policy=policy,
                now=now,
                grant_id=grant_id,
                duration=duration,
                comment=comment,
                acting_token=principal.token,
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
        person = principal.human()
        request = await self._visible_request(principal, request_id)
        now = self._clock()
        result = await self._store.update_request(
            request.id, lambda current: core.cancel(current, by=person, now=now)
        )
        announce(result.events)
        return result.request

    # -- grants ----------------------------------------------------------------------------
    async def revoke(self, principal: Principal, grant_id: str, *, reason: str | None) -> Grant:
        """Approvers and admins revoke; the holder may end their own early."""
        principal.require("grants:revoke")
        grant = await self._store.load_grant(grant_id)
        if grant is None or not self._may_see_grant(principal, grant):
            raise NotVisibleError(grant_id)
        now = self._clock()
        by = principal.identity
        is_admin = principal.is_admin or (principal.token is not None and by is None)
        actor = by or _token_identity(principal)
        is_approver = self._is_approver_for(principal, grant.application, grant.policy)
        result = await self._store.update_grant(
            grant.id,
            lambda current: core.revoke(
                current,
                by=actor,
                is_admin=is_admin,
                is_approver=is_approver,
                now=now,
                reason=reason,
            ),
        )
        announce(result.events)
        return result.grant

    # -- reading ---------------------------------------------------------------------------
    async def get_request(self, principal: Principal, request_id: str) -> AccessRequest:
        """One request, if the caller may see it."""
        principal.require("requests:read")
        return await self._visible_request(principal, request_id)

    async def get_grant(self, principal: Principal, grant_id: str) -> Grant:
        """One grant, if the caller may see it."""
        principal.require("requests:read")
        grant = await self._store.load_grant(grant_id)
        if grant is None or not self._may_see_grant(principal, grant):
            raise NotVisibleError(grant_id)
        return grant

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
        """Requests the caller may see, newest first, filtered."""
        principal.require("requests:read")
        me = principal.human() if mine else None
        if me is not None:
            index = self._indexes.person_requests(Person.of(me))
        elif to_review or status is RequestStatus.PENDING:
            index = self._indexes.pending
        else:
            index = self._indexes.requests

        def keep(request: AccessRequest) -> bool:
            if me is not None and not request.requester.is_requester(me):
                return False
            if status is not None and request.status is not status:
                return False
            if application is not None and request.application != application:
                return False
            if to_review and (
                request.status is not RequestStatus.PENDING
                or not self._may_review(principal, request)
            ):
                return False
            return self._may_see_request(principal, request)

        return await self._page(index, cursor, limit, self._store.load_requests, keep)

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
        """Grants the caller may see, newest first."""
        principal.require("requests:read")
        me = principal.human() if mine else None
        if me is not None:
            index = self._indexes.person_grants(Person.of(me))
        elif user is not None:
            index = self._indexes.user_grants(user)
        elif application is not None and active:
            index = self._indexes.application_grants(application)
        else:
            index = self._indexes.active_grants if active else self._indexes.grants
        now = self._clock()

        def keep(grant: Grant) -> bool:
            if me is not None and not grant.held_by(me):
                return False
            if application is not None and grant.application != application:
                return False
            if user is not None and grant.user != user:
                return False
            if active and not grant.is_active(now):
                return False
            return self._may_see_grant(principal, grant)

        return await self._page(index, cursor, limit, self._store.load_grants, keep)

    # -- time ------------------------------------------------------------------------------
    async def sweep(self) -> tuple[int, int]:
        """Expire pending requests past pending_ttl and grants past their end, even if nobody
        looks at them. Safe to run on every replica at once. Returns (requests, grants)."""
        now = self._clock()
        expired_requests = expired_grants = 0
        for request_id in await self._store.due_requests(now):
            try:
                result = await self._store.update_request(
                    request_id, lambda current: core.expire_request(current, now=now)
                )
            except LookupError:  # the record is gone; the store has dropped it from the index
                continue
            announce(result.events)
            expired_requests += result.changed
        for grant_id in await self._store.due_grants(now):
            try:
                grant_result = await self._store.update_grant(
                    grant_id, lambda current: core.expire_grant(current, now=now)
                )
            except LookupError:
                continue
            announce(grant_result.events)
            expired_grants += grant_result.changed
        return expired_requests, expired_grants

    # -- helpers ---------------------------------------------------------------------------
    async def _visible_request(self, principal: Principal, request_id: str) -> AccessRequest:
        request = await self._store.load_request(request_id)
        if request is None or not self._may_see_request(principal, request):
            raise NotVisibleError(request_id)
        return request

    def _policy_of(self, request: AccessRequest) -> Policy:
        app = self._policies().applications.get(request.application)
        policy = app.policy_named(request.policy) if app else None
        if policy is None:
            raise ApprovalError(ErrorCode.POLICY_MISMATCH, request.policy)
        return policy

    def _approval_policy(
        self, application: str, policy_name: str
    ) -> tuple[Application, Policy] | None:
        app = self._policies().applications.get(application)
        policy = app.policy_named(policy_name) if app else None
        return (app, policy) if app and policy else None

    def _is_approver_for(self, principal: Principal, application: str, policy_name: str) -> bool:
        found = self._approval_policy(application, policy_name)
        identity = principal.identity
        if found is None or identity is None:
            return False
        approval = found[1].approval
        return approval is not None and approval.is_approver(identity)

    def _may_review(self, principal: Principal, request: AccessRequest) -> bool:
        # Also: the policy still has the requirement the request was made under (else the
        # review would be refused with policy-mismatch, so the inbox does not offer it).
        identity = principal.identity
        found = self._approval_policy(request.application, request.policy)
        return (
            identity is not None
            and found is not None
            and found[1].fingerprint == request.policy_fingerprint
            and not request.requester.same_person(identity)
            and self._is_approver_for(principal, request.application, request.policy)
        )

    def _may_see_request(self, principal: Principal, request: AccessRequest) -> bool:
        if principal.is_admin or (principal.token is not None and principal.identity is None):
            return True
        identity = principal.identity
        if identity is None:
            return False
        return request.requester.is_requester(identity) or self._is_approver_for(
            principal, request.application, request.policy
        )

    def _may_see_grant(self, principal: Principal, grant: Grant) -> bool:
        if principal.is_admin or (principal.token is not None and principal.identity is None):
            return True
        identity = principal.identity
        if identity is None:
            return False
        return grant.held_by(identity) or self._is_approver_for(
            principal, grant.application, grant.policy
        )

    async def _page(
        self,
        index: str,
        cursor: str | None,
        limit: int,
        load: Callable[[Sequence[str]], Awaitable[Sequence[R]]],
        keep: Callable[[R], bool],
    ) -> Page[R]:
        limit = max(1, min(limit, 200))
        # The position is (score, how many rows with exactly that score were passed): records
        # made in the same instant share a score, and a bare score would skip the rest of them.
        at, passed = _decode_cursor(cursor)
        found: list[R] = []
        scanned = 0
        while len(found) < limit and scanned < 5000:
            rows = await self._store.request_ids(
                index=index,
                before=None if at is None else math.nextafter(at, math.inf),
                limit=limit * 2,
                offset=passed,
            )
            if not rows:
                return Page(tuple(found), None)
            scanned += len(rows)
            items = await load([row_id for row_id, _ in rows])
            by_id = {item.id: item for item in items}
            for row_id, score in rows:
                at, passed = (score, passed + 1) if score == at else (score, 1)
                item = by_id.get(row_id)
                if item is not None and keep(item):
                    found.append(item)
                    if len(found) == limit:
                        break
        return Page(tuple(found), _encode_cursor(at, passed) if at is not None else None)


#: The issuer of a service token acting alone: no person has it, so it never holds a grant.
TOKEN_ISSUER = "urn:countersign:service-token"  # noqa: S105  (a name, not a secret)


def _token_identity(principal: Principal) -> Identity:
    """A service token acting alone is named in the audit log by its token name."""
    return Identity(subject=principal.actor, email=None, issuer=TOKEN_ISSUER)


def _encode_cursor(score: float, passed: int) -> str:
    return f"{score!r}:{passed}"


def _decode_cursor(cursor: str | None) -> tuple[float | None, int]:
    if cursor is None:
        return None, 0
    score, _, passed = cursor.partition(":")
    try:
        value, count = float(score), int(passed)
    except ValueError:
        raise BadCursorError(cursor[:40]) from None
    if not math.isfinite(value) or not 0 <= count <= 1_000_000:
        raise BadCursorError(cursor[:40])
    return value, count
