"""Access requests and grants in Redis: every transition is one MULTI, together with the hot
path's pair keys, the indexes, the audit entries and the outbox entries.

A transition WATCHes what it reads (the record, the pair key it may delete, the audit head),
asks a pure function for the next state, and writes. A concurrent change aborts the EXEC and
the whole step is retried on fresh data, so concurrent approvals and denials of one request
cannot both win and an approver is counted once. Once the EXEC has answered, the change is made
as durable as COUNTERSIGN_DURABILITY asks (app/adapters/store/durability.py) before the caller
hears of it. Reading is `records`, the retry rules `transactions`, what is written `writes`,
and listing `listing`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from app.adapters.store import audit
from app.adapters.store.durability import DurableWrites
from app.adapters.store.emergency_store import EmergencyStore
from app.adapters.store.keys import (
    ACTIVE_GRANTS_INDEX,
    PENDING_INDEX,
    extension_key,
    grant_key,
    grant_record_key,
    justified_key,
    open_request_key,
    request_key,
)
from app.adapters.store.records import RedisRecords, grant_named_by, request_read_by, text
from app.adapters.store.transactions import ContentionError, Transactions
from app.adapters.store.writes import (
    OUTBOX_MAXLEN,
    Writes,
    open_key_of,
    pair_key_of,
    queue_events,
)
from app.config.settings import Durability
from app.core.approvals import (
    AccessRequest,
    Event,
    Grant,
    GrantTransition,
    RequestTransition,
)
from app.core.approvals.person import Person, Scope

#: ContentionError and OUTBOX_MAXLEN stay importable from here, where their users find them.
__all__ = ["OUTBOX_MAXLEN", "ContentionError", "NotFoundError", "RedisWorkflowStore"]


class NotFoundError(LookupError):
    """No such request or grant (or it is past retention)."""


class RedisWorkflowStore(EmergencyStore, RedisRecords):
    """Implements services.ports.WorkflowStore (and reads records as RedisRecords does).

    `durability` confirms each change (default: `fsync`, the setting's default, with its 2 s
    timeout); `redis_timeout` (the client's socket timeout) sets the time budget of a
    transition's contention retries."""

    def __init__(
        self,
        client: Any,
        *,
        retention: timedelta,
        durability: DurableWrites | None = None,
        redis_timeout: float = 0.25,
    ) -> None:
        super().__init__(client)
        self._retention = retention
        durable = durability or DurableWrites(
            client, Durability("fsync"), redis_timeout=redis_timeout
        )
        self._transactions = Transactions(client, durable=durable, redis_timeout=redis_timeout)
        self._writes = Writes(retention)

    async def open_request(
        self,
        *,
        person: Person,
        scope: Scope,
        step: Callable[[AccessRequest | None, Grant | None], RequestTransition | Grant],
    ) -> RequestTransition | Grant:
        """Create a request, or answer with what `person` already has for `scope`: `step` sees
        the open request and the grant in force (either may be None) and returns a transition
        (no events: "return the request as is") or the grant to answer with (nothing written)."""
        open_key = open_request_key(person, scope)
        pair_key = grant_key(person, scope)

        async def body(pipe: Any) -> RequestTransition | Grant:
            open_id = await pipe.get(open_key)
            existing = await request_read_by(pipe, text(open_id)) if open_id is not None else None
            return step(existing, await grant_named_by(pipe, pair_key))

        def write(pipe: Any, result: RequestTransition | Grant, head: audit.Head) -> None:
            # A Grant is answered without a MULTI (Transactions.run): it never gets here.
            if isinstance(result, RequestTransition):
                self._writes.request(pipe, result, head)

        return await self._transactions.run([open_key, pair_key], body, write)

    async def update_request(
        self, request_id: str, step: Callable[[AccessRequest], RequestTransition]
    ) -> RequestTransition:
        """Apply a pure transition to a stored request (NotFoundError if there is none)."""
        key = request_key(request_id)

        async def body(pipe: Any) -> RequestTransition:
            raw = await pipe.get(key)
            if raw is None:
                # Gone (past retention, or removed by hand): it cannot be pending any more.
                await self._client.zrem(PENDING_INDEX, request_id)
                raise NotFoundError(request_id)
            request = AccessRequest.from_dict(json.loads(raw))
            await pipe.watch(open_key_of(request))
            return step(request)

        return await self._transactions.run([key], body, self._writes.request)

    async def open_grant(
        self,
        *,
        person: Person,
        scope: Scope,
        step: Callable[[Grant | None], GrantTransition],
    ) -> GrantTransition:
        """Store a new justified session, or keep the one in force: `step` sees the session
        `person` has for `scope` (or None); a transition without events writes nothing."""
        pair_key = justified_key(person, scope)

        async def body(pipe: Any) -> GrantTransition:
            return step(await grant_named_by(pipe, pair_key))

        return await self._transactions.run([pair_key], body, self._writes.grant)

    async def update_grant(
        self, grant_id: str, step: Callable[[Grant], GrantTransition]
    ) -> GrantTransition:
        """Apply a pure transition (revoke, end early, expire) to a stored grant."""
        key = grant_record_key(grant_id)

        async def body(pipe: Any) -> GrantTransition:
            raw = await pipe.get(key)
            if raw is None:
                await self._client.zrem(ACTIVE_GRANTS_INDEX, grant_id)
                raise NotFoundError(grant_id)
            grant = Grant.from_dict(json.loads(raw))
            await pipe.watch(pair_key_of(grant))
            return step(grant)

        return await self._transactions.run([key], body, self._writes.grant)

    async def open_extension(
        self,
        grant_id: str,
        step: Callable[[AccessRequest | None, Grant], RequestTransition],
    ) -> RequestTransition:
        """Ask to extend a grant, or answer with the open extension request: `step` sees that
        request (or None) and the grant (NotFoundError if there is none)."""
        open_key, record = extension_key(grant_id), grant_record_key(grant_id)

        async def body(pipe: Any) -> RequestTransition:
            open_id = await pipe.get(open_key)
            existing = await request_read_by(pipe, text(open_id)) if open_id is not None else None
            raw = await pipe.get(record)
            if raw is None:
                raise NotFoundError(grant_id)
            return step(existing, Grant.from_dict(json.loads(raw)))

        return await self._transactions.run([open_key, record], body, self._writes.request)

    async def open_extension_id(self, grant_id: str) -> str | None:
        """The id of the grant's open extension request, if it has one."""
        found = await self._client.get(extension_key(grant_id))
        return text(found) if found is not None else None

    async def update_extension(
        self, request_id: str, step: Callable[[AccessRequest, Grant], RequestTransition]
    ) -> RequestTransition:
        """Apply a transition that needs the extended grant as it stands (a review): the
        request and the grant are read and written in one transaction, so a revocation or
        expiry of the grant and an approval of its extension cannot both act on stale data."""
        key = request_key(request_id)

        async def body(pipe: Any) -> RequestTransition:
            raw = await pipe.get(key)
            if raw is None:
                raise NotFoundError(request_id)
            request = AccessRequest.from_dict(json.loads(raw))
            if request.extends is None:
                raise NotFoundError(request_id)
            record = grant_record_key(request.extends)
            await pipe.watch(open_key_of(request), record)
            grant_raw = await pipe.get(record)
            if grant_raw is None:
                raise NotFoundError(request.extends)
            return step(request, Grant.from_dict(json.loads(grant_raw)))

        return await self._transactions.run([key], body, self._writes.request)

    async def append_audit(self, events: Sequence[Event]) -> None:
        """Audit events that change no record (policy reloads, admin actions)."""

        async def body(_pipe: Any) -> RequestTransition | None:
            return None

        def write(pipe: Any, _result: RequestTransition | None, head: audit.Head) -> None:
            queue_events(pipe, head, events)

        await self._transactions.run([], body, write)

    async def trim(self, now: datetime) -> int:
        """One bounded step of dropping index entries whose record is gone (records expire by
        TTL at their end plus the retention); an entry of a live record stays, however old.
        Returns how many entries went (docs/adr/0010-retention.md)."""
        from app.adapters.store.retention import trim_indexes  # noqa: PLC0415  (its only use)

        removed, _ = await trim_indexes(self._client, now, retention=self._retention)
        return removed
