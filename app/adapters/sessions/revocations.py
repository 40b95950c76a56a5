"""Ended sessions: a Redis deny-list of session ids and per-person "not before" times, mirrored
in every replica's memory and kept current by pub/sub (docs/adr/0007-sessions.md).

Writes go to Redis in one MULTI with the PUBLISH that tells every replica. While this replica's
subscription is up (subscribed first, then loaded), a check reads only memory; while it is
down, every check reads Redis, and a Redis that does not answer refuses the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from redis.exceptions import RedisError, WatchError

from app.adapters.identity.errors import TokenProblem
from app.adapters.store import audit
from app.adapters.store.keys import AUDIT_HEAD_KEY, PREFIX, tag
from app.core.approvals.person import Person

#: Every replica listens here; messages are JSON {kind, ...} (see `_apply`).
CHANNEL = f"{PREFIX}:sessions:events"
#: session id → until (the session's exp plus leeway), for signed-out sessions
DENIED_KEY = f"{PREFIX}:sessions:denied"
#: person tag → not-before (epoch seconds): sessions of that person issued until then are refused
NOT_BEFORE_KEY = f"{PREFIX}:sessions:not-before"
#: person tag → until (not-before plus TTL and leeway), to trim NOT_BEFORE_KEY
NOT_BEFORE_UNTIL_KEY = f"{PREFIX}:sessions:not-before:until"
_TRIM_BATCH = 500
#: How long stopping waits for the subscription to close before dropping its connection.
INTERRUPT_WAIT = 1.0
# Drops not-before entries past their `until` atomically: a revoke racing the trim keeps its
# fresh entry, because both keys change in one script.
_TRIM_NOT_BEFORE = """
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #old > 0 then
  redis.call('HDEL', KEYS[1], unpack(old))
  redis.call('ZREM', KEYS[2], unpack(old))
end
return #old
"""
_MAX_ATTEMPTS = 50

log = structlog.get_logger("countersign.sessions")
Clock = Callable[[], float]


def person_tag(person: Person) -> str:
    """The name of a person inside keys and messages (a digest: no user text in keys)."""
    return tag(person.issuer, person.subject)


class LocalRevocations:
    """This replica's copy: denied session ids and not-before times, each with its `until`."""

    def __init__(self) -> None:
        self.denied: dict[str, float] = {}
        self.not_before: dict[str, tuple[float, float]] = {}

    def replace(
        self, denied: Mapping[str, float], not_before: Mapping[str, tuple[float, float]]
    ) -> None:
        """Start again from what Redis holds."""
        self.denied = dict(denied)
        self.not_before = dict(not_before)

    def deny(self, sid: str, until: float) -> None:
        """Remember one signed-out session."""
        self.denied[sid] = max(until, self.denied.get(sid, 0.0))

    def revoke(self, person: str, at: float, until: float) -> None:
        """Remember a person's not-before; a later one wins."""
        known = self.not_before.get(person)
        if known is None or known[0] < at:
            self.not_before[person] = (at, until)

    def refused(self, sid: str, person: Person, issued_at: float, now: float) -> bool:
        """Whether the session is denied or was issued before its person's not-before."""
        until = self.denied.get(sid)
        if until is not None and now < until:
            return True
        if not self.not_before:  # the usual case: no digest to compute on the hot path
            return False
        entry = self.not_before.get(person_tag(person))
        return entry is not None and now < entry[1] and issued_at <= entry[0]

    def trim(self, now: float) -> None:
        """Forget entries no session can need any more."""
        self.denied = {sid: until for sid, until in self.denied.items() if until > now}
        self.not_before = {p: e for p, e in self.not_before.items() if e[1] > now}


class SessionRevocations:
    """Ends sessions (deny-list, not-before) and answers whether one has ended; one per process.

    `run()` keeps the subscription; start it as a task at start-up and cancel it at the end.
    """

    def __init__(
        self,
        client: Any,
        *,
        clock: Clock = time.time,
        retry_interval: float = 1.0,
        idle_ping: float = 5.0,
    ) -> None:
        self._client = client
        self._clock = clock
        self._retry_interval = retry_interval
        self._idle_ping = idle_ping
        self._local = LocalRevocations()
        self._live = False
        self._changed = asyncio.Condition()
        self._pubsub: Any = None
        self._connection: Any = None
        #: Counters for metrics and tests.
        self.redis_checks = 0
        self.reloads = 0
        self.applied = 0

    @property
    def live(self) -> bool:
        """True while the subscription is up and memory is current (checks read no Redis)."""
        return self._live

    # -- writes ---------------------------------------------------------------------------
    async def deny(self, sid: str, *, until: float) -> None:
        """Deny one session id on every replica until `until` (its exp plus leeway)."""
        message = json.dumps({"kind": "deny", "sid": sid, "until": until})
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zadd(DENIED_KEY, {sid: until})
            pipe.zremrangebyscore(DENIED_KEY, "-inf", self._clock())
            pipe.publish(CHANNEL, message)
            await pipe.execute()
        self._local.deny(sid, until)

    async def revoke_person(
        self, person: Person, *, at: float, until: float, audit_event: Mapping[str, Any]
    ) -> None:
        """Refuse every session of `person` issued before `at`, on every replica, until `until`;
        the audit entry is written in the same MULTI."""
        who = person_tag(person)
        message = json.dumps({"kind": "not-before", "person": who, "at": at, "until": until})
        for attempt in range(_MAX_ATTEMPTS):
            async with self._client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(AUDIT_HEAD_KEY)
                    head = audit.Head.parse(await pipe.get(AUDIT_HEAD_KEY))
                    pipe.multi()
                    pipe.hset(NOT_BEFORE_KEY, who, repr(at))
                    pipe.zadd(NOT_BEFORE_UNTIL_KEY, {who: until})
                    pipe.eval(
                        _TRIM_NOT_BEFORE,
                        2,
                        NOT_BEFORE_KEY,
                        NOT_BEFORE_UNTIL_KEY,
                        self._clock(),
                        _TRIM_BATCH,
                    )
                    entries, new_head = audit.chain(head, [dict(audit_event)])
                    audit.queue_append(pipe, entries, new_head)
                    pipe.publish(CHANNEL, message)
                    await pipe.execute()
                    break
                except WatchError:
                    await asyncio.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))  # noqa: S311
        else:
            raise RedisError("the audit log kept changing; try again")
        self._local.revoke(who, at, until)

    # -- reads ----------------------------------------------------------------------------
    async def refusal(self, *, sid: str, person: Person, issued_at: float) -> TokenProblem | None:
        """Why this session may not be used (ended, or Redis cannot tell), or None."""
        now = self._clock()
        if self._live:
            refused = self._local.refused(sid, person, issued_at, now)
            return TokenProblem.SESSION_ENDED if refused else None
        who = person_tag(person)
        self.redis_checks += 1
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.zscore(DENIED_KEY, sid)
                pipe.hget(NOT_BEFORE_KEY, who)
                until, not_before = await pipe.execute()
        except (TimeoutError, RedisError, OSError):
            return TokenProblem.SESSION_UNCHECKABLE
        if until is not None and now < float(until):
            return TokenProblem.SESSION_ENDED
        if not_before is not None and issued_at <= float(not_before):
            return TokenProblem.SESSION_ENDED
        return None

    # -- subscription ---------------------------------------------------------------------
    async def run(self) -> None:
        """Subscribe, load, apply messages; on any loss fall back to Redis reads and retry."""
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down or the connection dropped: retry
                # redis-py may turn our cancellation into a connection error, and `interrupt`
                # makes a read in progress fail: either way we are stopping.
                _raise_if_cancelled()
                if self._live:
                    log.warning("session_revocations_lost", problem=str(exc)[:200])
            await self._set_live(False)
            await asyncio.sleep(self._retry_interval)

    async def interrupt(self) -> None:
        """Drop the subscription's connection so a read in progress ends at once; call it after
        cancelling `run()` (a read would otherwise hold the cancellation until its timeout)."""
        pubsub = self._pubsub
        if pubsub is None:
            return
        # The connection itself as well: a read that redis-py retried holds it after `aclose()`
        # has let it go, and the lock `aclose()` takes may be held by that read.
        connection = self._connection
        with contextlib.suppress(Exception):
            async with asyncio.timeout(INTERRUPT_WAIT):
                await pubsub.aclose()
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.disconnect(nowait=True)

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until `predicate()` holds; it is re-checked whenever the local state changes
        (bound the wait with `asyncio.timeout`)."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    async def _follow(self) -> None:
        pubsub = self._pubsub = self._client.pubsub()
        try:
            await pubsub.subscribe(CHANNEL)
            self._connection = pubsub.connection
            while True:  # the subscription is confirmed before anything is loaded
                message = await pubsub.get_message(timeout=self._idle_ping)
                _raise_if_cancelled()
                if message is not None and message.get("type") == "subscribe":
                    break
            await self._reload()
            await self._set_live(True)
            log.info("session_revocations_followed", channel=CHANNEL)
            while True:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=self._idle_ping
                )
                _raise_if_cancelled()
                if message is None:
                    await pubsub.ping()  # a silent network loss surfaces as an error here
                elif message.get("type") == "message":
                    await self._apply(message.get("data"))
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _reload(self) -> None:
        now = self._clock()
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.zrangebyscore(DENIED_KEY, now, "+inf", withscores=True)
            pipe.hgetall(NOT_BEFORE_KEY)
            pipe.zrangebyscore(NOT_BEFORE_UNTIL_KEY, now, "+inf", withscores=True)
            denied_rows, not_before_rows, until_rows = await pipe.execute()
        untils = {_text(member): float(score) for member, score in until_rows}
        not_before = {
            _text(member): (float(at), untils[_text(member)])
            for member, at in not_before_rows.items()
            if _text(member) in untils
        }
        self._local.replace({_text(m): float(s) for m, s in denied_rows}, not_before)
        self.reloads += 1

    async def _apply(self, raw: object) -> None:
        try:
            body = json.loads(_text(raw)) if isinstance(raw, bytes | str) else None
            if not isinstance(body, dict):
                raise TypeError
            if body.get("kind") == "deny":
                self._local.deny(str(body["sid"]), float(body["until"]))
            elif body.get("kind") == "not-before":
                self._local.revoke(str(body["person"]), float(body["at"]), float(body["until"]))
        except (ValueError, TypeError, KeyError):
            log.warning("session_revocation_unreadable")
            return
        self._local.trim(self._clock())
        self.applied += 1
        async with self._changed:
            self._changed.notify_all()

    async def _set_live(self, live: bool) -> None:
        self._live = live
        async with self._changed:
            self._changed.notify_all()


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _raise_if_cancelled() -> None:
    """Re-raise a cancellation that redis-py's read with a timeout swallowed (Python 3.11's
    asyncio.timeout loses an outer cancel that races its own expiry): without this, stopping the
    service would wait on this loop forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
