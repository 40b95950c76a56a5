"""Idempotency keys in Redis: one record per (caller, operation, key) holding the request's
fingerprint and, once known, its outcome; a lease key marks the attempt running now
(docs/adr/0009-idempotency-keys.md).

The record lives `ttl` (COUNTERSIGN_IDEMPOTENCY_TTL); the lease a few seconds. A record
without a lease and without an outcome is an attempt whose outcome is unknown (it failed with a
5xx, or its replica died): a retry with the same request may run again, and is told so. Both
keys carry the `{cs}` hash tag, so each script stays in one Cluster slot.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

from app.adapters.store.keys import PREFIX, tag

#: Longer than any one call can take (a few Redis round trips, the durability wait, retries on
#: contention), short enough that a retry after a replica died waits only this long.
LEASE = timedelta(seconds=10)

# Reserve the key, or say why not. KEYS: record, lease  ARGV: fingerprint, owner, lease ms,
# ttl ms -> {verdict} | {'done', status, headers, body} | {'busy', lease ms left}
_RESERVE = """
local fp = redis.call('HGET', KEYS[1], 'fp')
if not fp then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'running')
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return {'reserved'}
end
if fp ~= ARGV[1] then
  return {'mismatch'}
end
local kept = redis.call('HMGET', KEYS[1], 'state', 'status', 'headers', 'body')
if kept[1] == 'done' then
  return {'done', kept[2], kept[3], kept[4]}
end
local left = redis.call('PTTL', KEYS[2])
if left > 0 then
  return {'busy', tostring(left)}
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return {'retry'}
"""

# Store the outcome, if the lease is still ours. KEYS: record, lease
# ARGV: owner, status, headers, body, ttl ms -> 1 stored, 0 not ours any more
_COMPLETE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'done', 'status', ARGV[2], 'headers', ARGV[3],
  'body', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""

# Give the lease back, if it is still ours; with ARGV[2] == '1' forget the record as well (the
# call changed nothing). KEYS: record, lease  ARGV: owner, forget -> 1 | 0
_ABANDON = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[2])
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[1])
end
return 1
"""


class Verdict(Enum):
    """What reserving a key found."""

    #: First use of the key: run the call.
    RESERVED = "reserved"
    #: An earlier attempt with the same request ended without a known outcome: run it again.
    RETRY = "retry"
    #: The outcome of the earlier attempt is stored: answer with it.
    DONE = "done"
    #: An attempt with the same request is running now.
    BUSY = "busy"
    #: The key was used for another request.
    MISMATCH = "mismatch"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A stored answer: status, the response headers worth repeating, and the body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """The lease of one running attempt: only its holder may store an outcome."""

    record: str
    lease: str
    owner: str
    #: Whether the record was new (nothing ran under this key before).
    fresh: bool


@dataclass(frozen=True, slots=True)
class Reservation:
    """The answer of `reserve`: a claim to run with (RESERVED, RETRY), the stored outcome
    (DONE), or how long the running attempt's lease has left (BUSY)."""

    verdict: Verdict
    claim: Claim | None = None
    outcome: Outcome | None = None
    busy_for: timedelta | None = None


def record_key(scope: Sequence[str], key: str) -> str:
    """The record of `key` used by one caller on one operation; a digest, since every part
    comes from outside."""
    return f"{PREFIX}:idem:{tag(*scope, key)}"


class RedisIdempotency:
    """Reserve keys, store outcomes and give leases back, each in one script."""

    def __init__(self, client: Any, *, ttl: timedelta, lease: timedelta = LEASE) -> None:
        self._ttl_ms = _ms(ttl)
        self._lease_ms = _ms(lease)
        self._reserve = client.register_script(_RESERVE)
        self._complete = client.register_script(_COMPLETE)
        self._abandon = client.register_script(_ABANDON)

    async def reserve(self, scope: Sequence[str], key: str, fingerprint: str) -> Reservation:
        """Claim `key` for a request with `fingerprint`, or report what holds it."""
        record = record_key(scope, key)
        lease = record + ":lease"
        owner = secrets.token_hex(16)
        found = await self._reserve(
            keys=[record, lease], args=[fingerprint, owner, self._lease_ms, self._ttl_ms]
        )
        verdict = Verdict(_text(found[0]))
        if verdict in (Verdict.RESERVED, Verdict.RETRY):
            claim = Claim(record, lease, owner, fresh=verdict is Verdict.RESERVED)
            return Reservation(verdict, claim=claim)
        if verdict is Verdict.DONE:
            return Reservation(verdict, outcome=_outcome(found[1:]))
        if verdict is Verdict.BUSY:
            return Reservation(verdict, busy_for=timedelta(milliseconds=int(_text(found[1]))))
        return Reservation(verdict)

    async def complete(self, claim: Claim, outcome: Outcome) -> bool:
        """Store the outcome for retries to repeat; False when the lease was lost meanwhile."""
        headers = json.dumps([list(pair) for pair in outcome.headers], separators=(",", ":"))
        stored = await self._complete(
            keys=[claim.record, claim.lease],
            args=[claim.owner, outcome.status, headers, outcome.body, self._ttl_ms],
        )
        return bool(int(stored))

    async def abandon(self, claim: Claim, *, forget: bool) -> bool:
        """End the attempt without an outcome. `forget` drops the record too (the call changed
        nothing and nothing ran before it); otherwise a retry runs again, told that an earlier
        attempt may have taken effect. False when the lease was lost meanwhile."""
        released = await self._abandon(
            keys=[claim.record, claim.lease], args=[claim.owner, "1" if forget else "0"]
        )
        return bool(int(released))


def _outcome(fields: Sequence[Any]) -> Outcome:
    status, headers, body = fields
    pairs = json.loads(_text(headers))
    return Outcome(
        status=int(_text(status)),
        headers=tuple((str(name), str(value)) for name, value in pairs),
        body=body if isinstance(body, bytes) else str(body).encode(),
    )


def _ms(span: timedelta) -> int:
    return max(1, math.ceil(span.total_seconds() * 1000))


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)
