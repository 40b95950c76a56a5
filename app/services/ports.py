"""Ports the services and the inbound adapters depend on; adapters implement them (Redis,
clocks, logs, metrics, token checks, proxy signals)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from app.core.approvals import (
    AccessRequest,
    Grant,
    GrantTransition,
    RequestStatus,
    RequestTransition,
)
from app.core.approvals.events import Event
from app.core.approvals.person import Person, Scope
from app.core.context import Identity, Signals
from app.core.decision import Decision, GrantState

Clock = Callable[[], datetime]


class GrantReader(Protocol):
    """The read path of the grant store: what one person has under one policy of one
    application (`scope`), never under another."""

    async def grant_state(self, person: Person, scope: Scope) -> GrantState:
        """Raise on any store failure; the caller fails closed."""
        ...


class GrantMemory(Protocol):
    """Grant answers known to be exact without I/O (a cache that Redis keeps exact)."""

    def cached(self, person: Person, scope: Scope) -> GrantState | None:
        """The answer if it is known exact now, else None (then ask the GrantReader)."""
        ...


class DecisionObserver(Protocol):
    """Told of every decision (metrics); must never raise into the decision path."""

    def decided(self, decision: Decision, *, seconds: float) -> None:
        """Record one decision and how long it took."""
        ...

    def store_failed(self) -> None:
        """Record that the grant store could not answer."""
        ...


class Identify(Protocol):
    """Who is asking: a verified identity, or None and a short reason code."""

    async def __call__(self, headers: Mapping[str, str]) -> tuple[Identity | None, str | None]:
        """Never raises for a bad token; returns (None, code)."""
        ...


class ReadSignals(Protocol):
    """Client IP, country and device from trusted metadata; raises BadProxyRequestError
    (or ForwardedHeaderError) for metadata it cannot read, which callers answer as a bad
    request, never as an allow."""

    def __call__(self, peer: str, headers: Mapping[str, str], identity: Identity | None) -> Signals:
        """Signals for one request."""
        ...


# -- the approval workflow's storage -------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; pass `next_cursor` back to get the next one (None: the end)."""

    items: tuple[T, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestQuery:
    """Which access requests to list, newest first: one requester's (None: everyone's), in
    one status and one application (None: any), at most `limit`, from where `cursor` (a
    `next_cursor` the store handed out; None: the start) left off.

    `visible` is the caller's judgement of each record (who may see it, what else it must
    be); what it refuses is skipped and does not count towards `limit`. It is required, so
    that no listing forgets to ask who may see what."""

    visible: Callable[[AccessRequest], bool]
    requester: Person | None = None
    status: RequestStatus | None = None
    application: str | None = None
    cursor: str | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantQuery:
    """Which grants to list, newest first: one holder's, or one user name's (None: anyone's),
    of one application (None: any), only those active at `active_at` (None: in any state), at
    most `limit`, from where `cursor` left off; `visible` as in RequestQuery."""

    visible: Callable[[Grant], bool]
    holder: Person | None = None
    user: str | None = None
    application: str | None = None
    active_at: datetime | None = None
    cursor: str | None = None
    limit: int = 50


class Listings(Protocol):
    """Pages of requests and grants. The store picks its indexes and owns the cursor's
    format; a cursor it did not hand out raises app.services.errors.BadCursorError."""

    async def requests(self, query: RequestQuery) -> Page[AccessRequest]:
        """One page of the requests `query` asks for."""
        ...

    async def grants(self, query: GrantQuery) -> Page[Grant]:
        """One page of the grants `query` asks for."""
        ...


class WorkflowStore(Protocol):
    """Loading and transitions of requests and grants: each transition applies a pure `step`
    to the current record atomically, with its audit and outbox entries."""

    async def load_request(self, request_id: str) -> AccessRequest | None:
        """The request, or None."""
        ...

    async def load_grant(self, grant_id: str) -> Grant | None:
        """The grant, or None."""
        ...

    async def due_requests(self, now: datetime, *, limit: int = 500) -> list[str]:
        """Ids of PENDING requests past their pending_ttl at `now`."""
        ...

    async def due_grants(self, now: datetime, *, limit: int = 500) -> list[str]:
        """Ids of ACTIVE grants past their end at `now`."""
        ...

    async def standing(
        self, person: Person, scope: Scope
    ) -> tuple[AccessRequest | None, Grant | None]:
        """The open request and the grant in force `person` has for `scope`."""
        ...

    async def open_request(
        self,
        *,
        person: Person,
        scope: Scope,
        step: Callable[[AccessRequest | None, Grant | None], RequestTransition | Grant],
    ) -> RequestTransition | Grant:
        """Open a request (or answer with the open one, or the grant in force)."""
        ...

    async def update_request(
        self, request_id: str, step: Callable[[AccessRequest], RequestTransition]
    ) -> RequestTransition:
        """Apply `step` to a stored request; LookupError if there is none."""
        ...

    async def open_grant(
        self, *, person: Person, scope: Scope, step: Callable[[Grant | None], GrantTransition]
    ) -> GrantTransition:
        """Open a justified session (or keep the one in force)."""
        ...

    async def update_grant(
        self, grant_id: str, step: Callable[[Grant], GrantTransition]
    ) -> GrantTransition:
        """Apply `step` to a stored grant; LookupError if there is none."""
        ...

    async def open_extension(
        self, grant_id: str, step: Callable[[AccessRequest | None, Grant], RequestTransition]
    ) -> RequestTransition:
        """Ask to extend a grant (or answer with its open extension request); LookupError if
        there is no such grant."""
        ...

    async def open_extension_id(self, grant_id: str) -> str | None:
        """The id of the grant's open extension request, if it has one."""
        ...

    async def update_extension(
        self, request_id: str, step: Callable[[AccessRequest, Grant], RequestTransition]
    ) -> RequestTransition:
        """Apply `step` to an extension request and the grant it extends, atomically;
        LookupError if either is gone."""
        ...


class AuditTrail(Protocol):
    """The audit log, for events that change no request or grant (policy loads, admin actions):
    appended to the same hash chain as the workflow's own entries."""

    async def append_audit(self, events: Sequence[Event]) -> None:
        """Append `events` in order, in one step; raise on any store failure (nothing written,
        or, once the write was sent, perhaps written: the caller may append them again)."""
        ...
