"""Each sink's place in the audit log and who may move it, in Redis (all keys in the `{cs}`
slot, beside the log, so the scripts work on Redis Cluster).

- The cursor (a hash: `id`, `hash`, `count`) names the last entry the sink acknowledged, its
  chain hash, and how many entries the chain held up to it. It moves only forward and only
  by the holder of the lease, after the sink acknowledged (one script checks both).
- The lease (a key holding the holder's token, with a TTL) lets one replica at a time deliver
  for a sink. The holder renews it before each batch; if it dies the lease runs out and
  another replica takes over from the cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from app.adapters.store import audit
from app.adapters.store.keys import AUDIT_CHECKPOINT_KEY, AUDIT_HEAD_KEY, AUDIT_KEY, PREFIX

# Take the lease, or renew it when ours.  KEYS: lease  ARGV: token, ms  -> 1 ours, 0 another's
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# Move the cursor from where the caller read it, if the caller still holds the lease.
# KEYS: lease, cursor  ARGV: token, expected id ('' when unset), id, hash, count, lease ms
# -> 1 moved, 0 the lease is another's, -1 the cursor moved meanwhile
_ADVANCE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local current = redis.call('HGET', KEYS[2], 'id') or ''
if current ~= ARGV[2] then
  return -1
end
redis.call('HSET', KEYS[2], 'id', ARGV[3], 'hash', ARGV[4], 'count', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
"""

# A new sink's starting point, unless another replica stored one first.
# KEYS: cursor  ARGV: id, hash, count  -> the cursor's fields
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'hash', ARGV[2], 'count', ARGV[3])
end
return redis.call('HGETALL', KEYS[1])
"""


def cursor_key(sink: str) -> str:
    """The sink's cursor (sink names are letters, digits, '.', '_' and '-')."""
    return f"{PREFIX}:audit:sink:{sink}:cursor"


def lease_key(sink: str) -> str:
    """Who delivers for the sink now."""
    return f"{PREFIX}:audit:sink:{sink}:lease"


@dataclass(frozen=True, slots=True)
class Position:
    """The last entry a sink acknowledged (`0-0` and the genesis hash: none yet)."""

    id: str
    hash: str
    count: int
    #: False for a position made up from where a new sink starts, not read from its cursor.
    stored: bool = True

    @classmethod
    def parse(cls, raw: dict[Any, Any]) -> Position | None:
        """From HGETALL of a cursor; None when there is none."""
        fields = {_text(k): _text(v) for k, v in raw.items()}
        if "id" not in fields:
            return None
        return cls(fields["id"], fields.get("hash", ""), int(fields.get("count") or 0))


@dataclass(frozen=True, slots=True)
class Batch:
    """Entries after a position, and the chain's length when they were read."""

    rows: list[audit.Row]
    #: The head's count, read in the same MULTI as the rows.
    total: int

    def count_after(self, position: Position, *, limit: int) -> int:
        """The chain count at the last row: the head's when the read reached the end of the
        log (exact even after a gap), else counted on from `position`."""
        if len(self.rows) < limit:
            return self.total
        return position.count + len(self.rows)


class SinkCursor:
    """The cursor and lease of one sink."""

    def __init__(self, client: Any, sink: str, *, start: Literal["beginning", "end"]) -> None:
        self._client = client
        self.sink = sink
        self._start = start
        self._cursor = cursor_key(sink)
        self._lease = lease_key(sink)
        self._hold = client.register_script(_HOLD)
        self._advance = client.register_script(_ADVANCE)

    async def hold(self, token: str, *, lease_ms: int) -> bool:
        """Take or renew the lease; whether it is `token`'s now."""
        return bool(int(await self._hold(keys=[self._lease], args=[token, lease_ms])))

    async def position(self, *, create: bool = True) -> Position:
        """Where delivery resumes: the stored cursor, else where a new sink starts (the
        retention checkpoint or the genesis for `beginning`, the newest entry for `end`),
        stored then with `create` so that "the end" stays where it was when first seen."""
        stored = Position.parse(await self._client.hgetall(self._cursor))
        if stored is not None:
            return stored
        start = await self._start_position()
        if not create:
            return start
        raw = await self._client.eval(_CREATE, 1, self._cursor, start.id, start.hash, start.count)
        return Position.parse(dict(zip(raw[::2], raw[1::2], strict=True))) or start

    async def _start_position(self) -> Position:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.get(AUDIT_CHECKPOINT_KEY)
            pipe.xrevrange(AUDIT_KEY, max="+", min="-", count=1)
            pipe.get(AUDIT_HEAD_KEY)
            raw_checkpoint, newest, raw_head = await pipe.execute()
        if self._start == "end":
            head = audit.Head.parse(raw_head)
            newest_id = _text(newest[0][0]) if newest else "0-0"
            return Position(newest_id, head.hash, head.count, stored=False)
        checkpoint = audit.Checkpoint.parse(raw_checkpoint)
        if checkpoint is None:
            return Position("0-0", audit.GENESIS, 0, stored=False)
        return Position(checkpoint.id, checkpoint.hash, checkpoint.count, stored=False)

    async def read(self, position: Position, *, limit: int) -> Batch:
        """Up to `limit` entries after `position`, with the head's count, in one MULTI."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.xrange(AUDIT_KEY, min="(" + position.id, max="+", count=limit)
            pipe.get(AUDIT_HEAD_KEY)
            rows, raw_head = await pipe.execute()
        return Batch(audit.as_rows(rows), audit.Head.parse(raw_head).count)

    async def wait(self, position: Position, *, block_ms: int) -> None:
        """Return when an entry after `position` exists, or after `block_ms`."""
        await self._client.xread({AUDIT_KEY: position.id}, count=1, block=block_ms)

    async def advance(
        self, token: str, frm: Position, to: Position, *, lease_ms: int
    ) -> Literal["moved", "lost", "raced"]:
        """Move the cursor from `frm` to `to` if `token` still holds the lease."""
        expected = frm.id if frm.stored else ""
        moved = await self._advance(
            keys=[self._lease, self._cursor],
            args=[token, expected, to.id, to.hash, to.count, lease_ms],
        )
        outcomes: dict[int, Literal["moved", "lost", "raced"]] = {
            1: "moved",
            0: "lost",
            -1: "raced",
        }
        return outcomes[int(moved)]

    async def release(self, token: str) -> None:
        """Give the lease up at a clean stop, if still ours, so another replica goes on at once."""
        await self._client.eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
            "return 0",
            1,
            self._lease,
            token,
        )


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)
