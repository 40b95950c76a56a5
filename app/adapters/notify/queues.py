"""The notifier's Redis state: per-(request, channel) delivery queues, the retry schedule, the
attempt counts and the dead-letter stream, moved along by small Lua scripts.

A queue holds the outbox entry ids one channel still owes one request, oldest first. Only its
head is ever sent; later entries wait behind it, so a request's messages arrive in order even
when the first needs retries. The retry schedule holds one member per non-empty queue, scored
with the time its head is due: the backoff after a failure, or the end of the lease of the
replica sending it now (if that replica dies, another takes the head over when the lease ends).
Every script touches keys of the `{cs}` slot only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from app.adapters.notify.keys import (
    ATTEMPTS_KEY,
    DEAD_KEY,
    DEAD_MAXLEN,
    GROUP,
    RETRY_KEY,
    attempts_field,
    member,
    parse_member,
    queue_key,
    warned_key,
)
from app.adapters.store.keys import OUTBOX_KEY
from app.adapters.store.redis_workflow import OUTBOX_MAXLEN

# Join each delivery's queue (at most once), lease the heads, and acknowledge the outbox entry,
# in one step: an entry is either unacknowledged and queued nowhere, or queued everywhere.
# KEYS: outbox, retry, queue...  ARGV: group, entry id, lease end, member...  -> 1 per head
_ENQUEUE = """
local heads = {}
for i = 3, #KEYS do
  local pos = redis.call('LPOS', KEYS[i], ARGV[2])
  if not pos then
    pos = redis.call('RPUSH', KEYS[i], ARGV[2]) - 1
  end
  if pos == 0 then
    redis.call('ZADD', KEYS[2], ARGV[3], ARGV[i + 1])
    heads[#heads + 1] = 1
  else
    heads[#heads + 1] = 0
  end
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return heads
"""

# The head is done (sent, or dead-lettered with ARGV[5]): pop it and lease the next head.
# KEYS: queue, retry, attempts, dead  ARGV: entry id, member, lease end, attempts field, dead
# -> {1, next head or ''}, or {0, ''} when the entry is not the head (someone else finished it)
_FINISH = """
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then
  return {0, ''}
end
redis.call('LPOP', KEYS[1])
redis.call('HDEL', KEYS[3], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '*', 'dead', ARGV[5])
end
local nxt = redis.call('LINDEX', KEYS[1], 0)
if nxt then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  return {1, nxt}
end
redis.call('ZREM', KEYS[2], ARGV[2])
return {1, ''}
"""

# The head failed: count the try. The caller then schedules the retry or gives up; if it dies
# first, the lease of the try runs out and the head is retried anyway.
# KEYS: queue, attempts  ARGV: entry id, attempts field  -> tries so far, -1 if not the head
_FAILED = """
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then
  return -1
end
return redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
"""

# Take the due members, leasing each (so no other replica takes it meanwhile).
# KEYS: retry  ARGV: now, lease end, limit
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[2], m)
end
return due
"""

# A schedule member whose queue is empty is stale: drop it (unless the queue refilled).
_DROP_IF_EMPTY = """
if redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
return 0
"""

# An outbox entry that cannot be read goes straight to the dead letters.
# KEYS: outbox, dead  ARGV: group, entry id, record, maxlen
_BURY = """
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'dead', ARGV[3])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# Put a request's expiry warning in the outbox once, however many replicas see it due.
# KEYS: warned, outbox  ARGV: ttl ms, trigger JSON, maxlen
_WARN = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'notice', ARGV[2])
  return 1
end
return 0
"""


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class DeliveryQueues:
    """The scripts above, with typed arguments."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._enqueue = client.register_script(_ENQUEUE)
        self._finish = client.register_script(_FINISH)
        self._failed = client.register_script(_FAILED)
        self._claim = client.register_script(_CLAIM)
        self._drop = client.register_script(_DROP_IF_EMPTY)
        self._bury = client.register_script(_BURY)
        self._warn = client.register_script(_WARN)

    async def enqueue(
        self, entry_id: str, channels: Sequence[str], order_key: str, *, lease_end: float
    ) -> list[bool]:
        """Queue the entry for each channel and acknowledge it; True where it is the head
        (the caller sends it now)."""
        keys = [OUTBOX_KEY, RETRY_KEY, *(queue_key(c, order_key) for c in channels)]
        args = [GROUP, entry_id, lease_end, *(member(c, order_key) for c in channels)]
        heads = await self._enqueue(keys=keys, args=args)
        return [bool(int(h)) for h in heads]

    async def acknowledge(self, entry_id: str) -> None:
        """An entry that notifies nobody."""
        await self._client.xack(OUTBOX_KEY, GROUP, entry_id)

    async def head(self, channel: str, order_key: str) -> str | None:
        """The entry id at the head of a queue."""
        raw = await self._client.lindex(queue_key(channel, order_key), 0)
        return _text(raw) if raw is not None else None

    async def finish(
        self,
        channel: str,
        order_key: str,
        entry_id: str,
        *,
        lease_end: float,
        dead: Mapping[str, Any] | None = None,
    ) -> tuple[bool, str | None]:
        """Pop the head (recording `dead` in the dead letters when given): (whether it was the
        head, the next head to send now)."""
        keys = [queue_key(channel, order_key), RETRY_KEY, ATTEMPTS_KEY, DEAD_KEY]
        record = json.dumps(dict(dead), ensure_ascii=False) if dead is not None else ""
        args = [
            entry_id,
            member(channel, order_key),
            lease_end,
            attempts_field(entry_id, channel),
            record,
            DEAD_MAXLEN,
        ]
        ok, nxt = await self._finish(keys=keys, args=args)
        return bool(int(ok)), (_text(nxt) or None)

    async def failed(self, channel: str, order_key: str, entry_id: str) -> int:
        """Count a failed try of the head: the tries so far (-1: it is no longer the head)."""
        keys = [queue_key(channel, order_key), ATTEMPTS_KEY]
        return int(
            await self._failed(keys=keys, args=[entry_id, attempts_field(entry_id, channel)])
        )

    async def schedule(self, channel: str, order_key: str, *, due: float) -> None:
        """Retry the queue's head at `due`."""
        await self._client.zadd(RETRY_KEY, {member(channel, order_key): due})

    async def claim_due(self, *, now: float, lease_end: float, limit: int) -> list[tuple[str, str]]:
        """(channel, order key) of queues whose head is due, leased to the caller."""
        rows = await self._claim(keys=[RETRY_KEY], args=[now, lease_end, limit])
        return [parse_member(row) for row in rows]

    async def drop_if_empty(self, channel: str, order_key: str) -> None:
        """Forget the schedule of an empty queue."""
        keys = [queue_key(channel, order_key), RETRY_KEY]
        await self._drop(keys=keys, args=[member(channel, order_key)])

    async def bury(self, entry_id: str, record: Mapping[str, Any]) -> None:
        """Dead-letter an unreadable outbox entry and acknowledge it."""
        body = json.dumps(dict(record), ensure_ascii=False)
        await self._bury(keys=[OUTBOX_KEY, DEAD_KEY], args=[GROUP, entry_id, body, DEAD_MAXLEN])

    async def warn_once(self, request_id: str, trigger: Mapping[str, Any], *, ttl_ms: int) -> bool:
        """Add an expiry warning to the outbox unless one was added already."""
        body = json.dumps(dict(trigger), ensure_ascii=False)
        result = await self._warn(
            keys=[warned_key(request_id), OUTBOX_KEY], args=[max(ttl_ms, 1000), body, OUTBOX_MAXLEN]
        )
        return bool(int(result))
