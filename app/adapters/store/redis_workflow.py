"""Access requests and grants in Redis: every transition is one MULTI, together with the hot
path's pair keys, the indexes, the audit entries and the outbox entries.

A transition WATCHes what it reads (the record, the pair key it may delete, the audit head),
asks a pure function for the next state, and writes. A concurrent change aborts the EXEC and
the whole step is retried on fresh data, so concurrent approvals and denials of one request
cannot both win and an approver is counted once. Once the EXEC has answered, the change is made
as durable as COUNTERSIGN_DURABILITY asks (app/adapters/store/durability.py) before the caller
hears of it.
"""

from __future__ import annotations

import asyncio
import json
import random
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.adapters.store import audit
from app.adapters.store.durability import DurableWrites, UnconfirmedWriteError
from app.adapters.store.keys import (
    ACTIVE_GRANTS_INDEX,
    AUDIT_HEAD_KEY,
    GRANTS_INDEX,
    OUTBOX_KEY,
    PENDING_INDEX,
    REQUESTS_INDEX,
    access_keys,
    application_grants_index,
    grant_key,
    grant_record_key,
    justified_key,
    legacy_pair_keys,
    open_request_key,
    person_grants_index,
    person_requests_index,
    request_key,
    user_grants_index,
)
from app.config import Durability
from app.core.approvals import (
    AccessRequest,
    Event,
    Grant,
    GrantKind,
    GrantStatus,
    GrantTransition,
    RequestStatus,
    RequestTransition,
)
from app.core.approvals.person import Person, Scope

#: Contention retries stop after this many times COUNTERSIGN_REDIS_TIMEOUT (2 s by default).
BUDGET_PER_REDIS_TIMEOUT = 8
#: Full-jitter backoff between contention retries: up to 1 ms, doubling, at most 50 ms.
BACKOFF_FIRST = 0.001
BACKOFF_CEILING = 0.05

OUTBOX_MAXLEN = 100_000


class NotFoundError(LookupError):
    """No such request or grant (or it is past retention)."""


class ContentionError(RuntimeError):
    """A transition kept losing races for its whole time budget; nothing was written and the
    caller may retry later (HTTP 503)."""


class RedisWorkflowStore:
    """Implements services.ports.WorkflowStore.

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
        self._client = client
        self._retention = retention
        self._durable = durability or DurableWrites(
            client, Durability("fsync"), redis_timeout=redis_timeout
        )
        self._budget = BUDGET_PER_REDIS_TIMEOUT * redis_timeout
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    # -- reads ----------------------------------------------------------------------------
    async def load_request(self, request_id: str) -> AccessRequest | None:
        """The request, or None."""
        raw = await self._client.get(request_key(request_id))
        return AccessRequest.from_dict(json.loads(raw)) if raw is not None else None

    async def load_grant(self, grant_id: str) -> Grant | None:
        """The grant, or None."""
        raw = await self._client.get(grant_record_key(grant_id))
        return Grant.from_dict(json.loads(raw)) if raw is not None else None

    async def request_ids(
        self,
        *,
        index: str,
        newest_first: bool = True,
        before: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[tuple[str, float]]:
        """(id, score) pairs from an index, newest first, scores strictly below `before`,
        leaving out the first `offset` of them."""
        top = f"({before!r}" if before is not None else "+inf"
        if newest_first:
            rows = await self._client.zrevrangebyscore(
                index, top, "-inf", start=offset, num=limit, withscores=True
            )
        else:
            rows = await self._client.zrangebyscore(
                index, "-inf", top, start=offset, num=limit, withscores=True
            )
        return [(_text(member), float(score)) for member, score in rows]

    async def load_requests(self, ids: Sequence[str]) -> list[AccessRequest]:
        """Requests by id, skipping any gone past retention."""
        if not ids:
            return []
        raws = await self._client.mget([request_key(i) for i in ids])
        return [AccessRequest.from_dict(json.loads(r)) for r in raws if r is not None]

    async def load_grants(self, ids: Sequence[str]) -> list[Grant]:
        """Grants by id, skipping any gone past retention."""
        if not ids:
            return []
        raws = await self._client.mget([grant_record_key(i) for i in ids])
        return [Grant.from_dict(json.loads(r)) for r in raws if r is not None]

    async def due_requests(self, now: datetime, *, limit: int = 500) -> list[str]:
        """PENDING requests whose pending_ttl has run out."""
        rows = await self._client.zrangebyscore(
            PENDING_INDEX, "-inf", now.timestamp(), start=0, num=limit
        )
        return [_text(r) for r in rows]

    async def due_grants(self, now: datetime, *, limit: int = 500) -> list[str]:
        """ACTIVE grants whose time is up."""
        rows = await self._client.zrangebyscore(
            ACTIVE_GRANTS_INDEX, "-inf", now.timestamp(), start=0, num=limit
        )
        return [_text(r) for r in rows]

    # -- transitions ----------------------------------------------------------------------
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
            existing = None
            if open_id is not None:
                raw = await pipe.get(request_key(_text(open_id)))
                existing = AccessRequest.from_dict(json.loads(raw)) if raw else None
            return step(existing, await self._grant_named_by(pipe, pair_key))

        return await self._transact(  # type: ignore[no-any-return]
            [open_key, pair_key, AUDIT_HEAD_KEY], body, self._write_request
        )

    async def standing(
        self, person: Person, scope: Scope
    ) -> tuple[AccessRequest | None, Grant | None]:
        """The open request and the grant in force (approval, else justified) that `person`
        has for `scope`, as the hot path would find them; either may be None."""
        grant_pair, open_key, justified_pair = access_keys(person, scope)
        open_id = await self._client.get(open_key)
        request = await self.load_request(_text(open_id)) if open_id is not None else None
        grant = await self._grant_named_by(self._client, grant_pair)
        if grant is None:
            grant = await self._grant_named_by(self._client, justified_pair)
        return request, grant

    async def _grant_named_by(self, reader: Any, pair_key: str) -> Grant | None:
        # The record named by an access key; garbage in the key names no grant.
        raw = await reader.get(pair_key)
        if raw is None:
            return None
        try:
            grant_id = str(json.loads(raw)["id"])
        except (ValueError, KeyError, TypeError):
            return None
        record = await reader.get(grant_record_key(grant_id))
        return Grant.from_dict(json.loads(record)) if record is not None else None

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
            await pipe.watch(_open_key_of(request))
            return step(request)

        return await self._run_request([key, AUDIT_HEAD_KEY], body)

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
            return step(await self._grant_named_by(pipe, pair_key))

        return await self._run_grant([pair_key, AUDIT_HEAD_KEY], body)

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
            await pipe.watch(_pair_key_of(grant))
            return step(grant)

        return await self._run_grant([key, AUDIT_HEAD_KEY], body)

    async def append_audit(self, events: Sequence[Event]) -> None:
        """Audit events that change no record (policy reloads, admin actions)."""

        async def body(_pipe: Any) -> RequestTransition | None:
            return None

        await self._transact(
            [AUDIT_HEAD_KEY], body, lambda pipe, _t, head: self._audit(pipe, head, events)
        )

    # -- machinery ------------------------------------------------------------------------
    async def _run_request(self, watch: list[str], body: Any) -> RequestTransition:
        return await self._transact(watch, body, self._write_request)  # type: ignore[no-any-return]

    async def _run_grant(self, watch: list[str], body: Any) -> GrantTransition:
        return await self._transact(watch, body, self._write_grant)  # type: ignore[no-any-return]

    async def _transact(self, watch: list[str], body: Any, write: Any) -> Any:
        """Run one transition within its time budget, then confirm it durable.

        A WatchError from EXEC is contention: retried on fresh data after a jittered, growing
        pause until the budget (BUDGET_PER_REDIS_TIMEOUT x redis_timeout) is spent, then
        ContentionError. A Redis timeout or lost connection is not contention: before EXEC is
        sent (nothing written) it is retried once on a fresh connection if the budget allows,
        else raised (503 store-unavailable); once EXEC is sent its outcome is unknown and it is
        never sent again: UnconfirmedWriteError. Transitions of this process take turns, one
        attempt at a time (see `_turn`)."""
        plan = await self._durable.require()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._budget
        contended = 0
        reconnected = False
        while True:
            attempt = _Attempt()
            try:
                async with asyncio.timeout_at(deadline), self._turn():
                    result = await self._attempt(attempt, watch, body, write)
            except (WatchError, RedisConnectionError, RedisTimeoutError, TimeoutError) as exc:
                failure = _store_failure(exc)
                if failure is None:  # EXEC answered nil: nothing was written
                    contended += 1
                    pause = random.uniform(  # noqa: S311  (jitter, not a secret)
                        0, min(BACKOFF_CEILING, BACKOFF_FIRST * 2 ** min(contended, 16))
                    )
                    if loop.time() + pause >= deadline:
                        raise ContentionError("the record kept changing; try again") from None
                    await asyncio.sleep(pause)
                    continue
                if attempt.exec_sent:
                    raise UnconfirmedWriteError(
                        "the answer to the change was lost; it may have been applied"
                    ) from exc
                if reconnected or loop.time() >= deadline:
                    if contended and not isinstance(failure, RedisError):
                        raise ContentionError("the record kept changing; try again") from exc
                    raise _store_error(failure, self._budget) from exc
                reconnected = True
                continue
            await self._durable.confirm(plan)
            return result

    def _turn(self) -> asyncio.Lock:
        """Every transition also moves the audit head, so the transitions of one process
        contend with each other: without turns, 20 concurrent approvals spend their time
        aborting each other's EXECs (15 round trips/s instead of 120 in `make bench`). So each
        attempt takes this store's turn (a lock per event loop): waited for within the
        transition's budget, held for one attempt only, never across a retry's pause. A stalled
        Redis gives the turn back after one socket timeout, as the failure surfaces at once."""
        loop = asyncio.get_running_loop()
        lock = self._turns.get(loop)
        if lock is None:
            lock = self._turns[loop] = asyncio.Lock()
        return lock

    async def _attempt(self, attempt: _Attempt, watch: list[str], body: Any, write: Any) -> Any:
        async with self._client.pipeline(transaction=True) as pipe:
            await pipe.watch(*watch)
            head = audit.Head.parse(await pipe.get(AUDIT_HEAD_KEY))
            result = await body(pipe)
            if isinstance(result, Grant) or (
                result is not None and not getattr(result, "changed", True)
            ):
                return result
            pipe.multi()
            write(pipe, result, head)
            attempt.exec_sent = True
            await pipe.execute()
            return result

    def _audit(self, pipe: Any, head: audit.Head, events: Sequence[Event]) -> None:
        bodies = [event.to_dict() for event in events]
        entries, new_head = audit.chain(head, bodies)
        audit.queue_append(pipe, entries, new_head)
        for body in bodies:
            pipe.xadd(
                OUTBOX_KEY, {"event": audit.canonical(body)}, maxlen=OUTBOX_MAXLEN, approximate=True
            )

    def _write_request(self, pipe: Any, transition: RequestTransition, head: audit.Head) -> None:
        request = transition.request
        key = request_key(request.id)
        pipe.set(key, json.dumps(request.to_dict()))
        created = request.created_at.timestamp()
        pipe.zadd(REQUESTS_INDEX, {request.id: created})
        requester = request.requester.person
        if requester is not None:
            pipe.zadd(person_requests_index(requester), {request.id: created})
        open_key = _open_key_of(request)
        if request.status is RequestStatus.PENDING:
            pipe.persist(key)
            pipe.zadd(PENDING_INDEX, {request.id: request.expires_at.timestamp()})
            pipe.set(open_key, request.id, pxat=_ms(request.expires_at))
        else:
            pipe.expireat(
                key, _retention_end(request.resolved_at or request.expires_at, self._retention)
            )
            pipe.zrem(PENDING_INDEX, request.id)
            # A newer request may already be the open one (this one ran out before the sweep
            # expired it): remove the open key only if it still names this request.
            pipe.eval(_DELETE_IF_VALUE, 1, open_key, request.id)
        if transition.grant is not None:
            self._put_grant(pipe, transition.grant)
        self._audit(pipe, head, transition.events)

    def _write_grant(self, pipe: Any, transition: GrantTransition, head: audit.Head) -> None:
        self._put_grant(pipe, transition.grant)
        self._audit(pipe, head, transition.events)

    def _put_grant(self, pipe: Any, grant: Grant) -> None:
        key = grant_record_key(grant.id)
        pipe.set(key, json.dumps(grant.to_dict()))
        pipe.zadd(GRANTS_INDEX, {grant.id: grant.starts_at.timestamp()})
        pipe.zadd(user_grants_index(grant.user), {grant.id: grant.starts_at.timestamp()})
        holder = grant.holder
        if holder is not None:
            pipe.zadd(person_grants_index(holder), {grant.id: grant.starts_at.timestamp()})
        app_index = application_grants_index(grant.application)
        pair = _pair_key_of(grant)
        if grant.status is GrantStatus.ACTIVE:
            pipe.persist(key)
            pipe.zadd(ACTIVE_GRANTS_INDEX, {grant.id: grant.expires_at.timestamp()})
            pipe.zadd(app_index, {grant.id: grant.expires_at.timestamp()})
            # "id" first: _DELETE_IF_OURS looks for it; "policy" lets the reader re-check scope.
            value = json.dumps(
                {
                    "id": grant.id,
                    "expires_at": grant.expires_at.timestamp(),
                    "policy": grant.policy_fingerprint,
                }
            )
            pipe.set(pair, value, pxat=_ms(grant.expires_at))
        else:
            pipe.expireat(
                key, _retention_end(grant.revoked_at or grant.expires_at, self._retention)
            )
            pipe.zrem(ACTIVE_GRANTS_INDEX, grant.id)
            pipe.zrem(app_index, grant.id)
            # The pair key may already name a newer grant: remove it only if it is this one.
            pipe.eval(_DELETE_IF_OURS, 1, pair, grant.id)

    async def trim(self, now: datetime) -> int:
        """One bounded step of dropping index entries whose record is gone (records expire by
        TTL at their end plus the retention); an entry of a live record stays, however old.
        Returns how many entries went (docs/adr/0010-retention.md)."""
        from app.adapters.store.retention import trim_indexes  # noqa: PLC0415  (its only use)

        removed, _ = await trim_indexes(self._client, now, retention=self._retention)
        return removed


# Deletes the pair key only when it names this grant (a newer one may have replaced it).
# Runs inside the MULTI, after the WATCH on the same key.
_DELETE_IF_OURS = """
local value = redis.call('GET', KEYS[1])
if value and string.find(value, '"id": "' .. ARGV[1] .. '"', 1, true) then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


# Deletes the open-request key only when it holds this request's id.
_DELETE_IF_VALUE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _pair_key_of(grant: Grant) -> str:
    # An older grant (no holder or fingerprint) lives under the legacy key, which is still
    # deleted when it ends so that replicas of the previous release stop honouring it too.
    holder, scope = grant.holder, grant.scope
    approval = grant.kind is GrantKind.APPROVAL
    if holder is None or scope is None:
        legacy_grant, _, legacy_justified = legacy_pair_keys(grant.user, grant.application)
        return legacy_grant if approval else legacy_justified
    return grant_key(holder, scope) if approval else justified_key(holder, scope)


def _open_key_of(request: AccessRequest) -> str:
    requester, scope = request.requester.person, request.scope
    if requester is None or scope is None:
        return legacy_pair_keys(request.user, request.application)[1]
    return open_request_key(requester, scope)


class _Attempt:
    """Whether this attempt's EXEC has been sent: from then on its outcome may be unknown."""

    __slots__ = ("exec_sent",)

    def __init__(self) -> None:
        self.exec_sent = False


def _store_failure(exc: BaseException) -> BaseException | None:
    """The timeout or connection failure behind `exc`, or None for true contention. redis-py
    reports a connection lost while WATCHing as a WatchError; its cause is the real failure."""
    if isinstance(exc, WatchError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, RedisConnectionError | RedisTimeoutError | OSError | TimeoutError):
            return cause
        return None
    return exc


def _store_error(failure: BaseException, budget: float) -> RedisError:
    """The error to surface for a Redis that failed before EXEC: its own, or a timeout when
    the transition's time budget ran out first."""
    if isinstance(failure, RedisConnectionError):
        return RedisConnectionError(str(failure))
    if isinstance(failure, RedisTimeoutError):
        return RedisTimeoutError(str(failure))
    return RedisTimeoutError(f"Redis did not answer within the {budget:g} s budget")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _retention_end(moment: datetime, retention: timedelta) -> int:
    return int((moment + retention).timestamp())


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
