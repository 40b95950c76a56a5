"""Retention: keep Redis bounded. Index entries go once their record is gone (records expire by
TTL at their end plus the retention), and audit entries older than the audit retention are
trimmed behind a checkpoint that the kept part verifies from (docs/adr/0010-retention.md).

Every step is bounded per sweep and safe when several replicas sweep at once: an index entry
is removed only in a script that sees its record absent, and an audit trim is a compare-and-set
on the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from redis.asyncio.cluster import RedisCluster

from app.adapters.store import audit
from app.adapters.store.keys import (
    AUDIT_CHECKPOINT_KEY,
    AUDIT_KEY,
    GLOBAL_INDEXES,
    INDEX_PATTERN,
    RETENTION_CURSOR_KEY,
    IndexShape,
    index_shape,
)

log = structlog.get_logger("countersign.retention")

#: Index entries examined per index per sweep, and audit entries trimmed per sweep.
BATCH = 500
#: Keys SCAN looks at per sweep while it looks for per person/user/application indexes.
SCAN_COUNT = 1000
_SCAN_FIELD = "scan"


@dataclass(frozen=True, slots=True)
class TrimReport:
    """What one sweep removed, and whether its keyspace scan came back to the start (every
    per person/user/application index has then been looked at since the previous wrap)."""

    index_entries: int = 0
    audit_entries: int = 0
    scan_wrapped: bool = False


class Retention:
    """Trims indexes and the audit log; one per process, called by the sweeper."""

    def __init__(
        self,
        client: Any,
        *,
        records: timedelta,
        audit_log: timedelta,
        batch: int = BATCH,
        scan_count: int = SCAN_COUNT,
    ) -> None:
        self._client = client
        self._records = records
        self._audit = audit_log
        self._batch = batch
        self._scan_count = scan_count

    async def trim(self, now: datetime) -> TrimReport:
        """One bounded step of each kind of trimming."""
        removed, wrapped = await trim_indexes(
            self._client,
            now,
            retention=self._records,
            batch=self._batch,
            scan_count=self._scan_count,
        )
        trimmed = await trim_audit(
            self._client, before=now - self._audit, now=now, batch=self._batch
        )
        if removed or trimmed:
            log.info("retention_trimmed", index_entries=removed, audit_entries=trimmed)
        return TrimReport(removed, trimmed, wrapped)


# -- indexes -----------------------------------------------------------------------------------


async def trim_indexes(
    client: Any,
    now: datetime,
    *,
    retention: timedelta,
    batch: int = BATCH,
    scan_count: int = SCAN_COUNT,
) -> tuple[int, bool]:
    """Remove entries whose record is gone from the global indexes (each resuming where the
    previous sweep stopped) and from the per person/user/application indexes one SCAN step
    finds. Returns how many entries went and whether the SCAN came back to its start."""
    removed = 0
    for index, shape in GLOBAL_INDEXES.items():
        removed += await _trim_global(client, index, shape, _cutoff(shape, now, retention), batch)
    raw_cursor = await client.hget(RETENTION_CURSOR_KEY, _SCAN_FIELD)
    cursor, keys = await _scan_step(client, int(raw_cursor or 0), scan_count)
    found = [(index, index_shape(index)) for index in map(_text, keys)]
    owned = [(i, s) for i, s in found if s is not None and i not in GLOBAL_INDEXES]
    # Most indexes hold nothing old enough: one pipelined look tells which need a closer one.
    async with client.pipeline(transaction=False) as pipe:
        for index, shape in owned:
            pipe.zrangebyscore(index, "-inf", _cutoff(shape, now, retention), start=0, num=1)
        oldest = await pipe.execute() if owned else []
    for (index, shape), rows in zip(owned, oldest, strict=True):
        if rows:
            cutoff = _cutoff(shape, now, retention)
            trimmed = await _trim_index(
                client, index, shape=shape, cutoff=cutoff, start=None, budget=batch
            )
            removed += trimmed[0]
    if cursor != int(raw_cursor or 0):
        await client.hset(RETENTION_CURSOR_KEY, _SCAN_FIELD, str(cursor))
    return removed, cursor == 0


async def _trim_global(
    client: Any, index: str, shape: IndexShape, cutoff: float, batch: int
) -> int:
    """One bounded pass over a global index, from where the previous sweep (on any replica)
    stopped; it starts over from the lowest score once it reaches the cutoff."""
    raw = await client.hget(RETENTION_CURSOR_KEY, index)
    start = float(raw) if raw is not None else None
    removed, resume = await _trim_index(
        client, index, shape=shape, cutoff=cutoff, start=start, budget=batch
    )
    if resume is not None:
        await client.hset(RETENTION_CURSOR_KEY, index, repr(resume))
    elif raw is not None:
        await client.hdel(RETENTION_CURSOR_KEY, index)
    return removed


def _cutoff(shape: IndexShape, now: datetime, retention: timedelta) -> float:
    """The highest score an entry whose record is gone can have. A record lives until its end
    plus the retention, and its end is never before its start: an index scored by start holds
    gone records only at or below now - retention. One scored by end (pending, active) drops
    its entry when the record ends, so only an entry left behind can be gone: at or below now."""
    return (now if shape.scored_by_end else now - retention).timestamp()


async def _trim_index(
    client: Any,
    index: str,
    *,
    shape: IndexShape,
    cutoff: float,
    start: float | None,
    budget: int,
) -> tuple[int, float | None]:
    """Remove the entries of gone records with scores from `start` to `cutoff`, looking at no
    more than `budget` entries; returns (removed, where to resume or None: reached the cutoff).

    Live records below the cutoff (a grant that started long ago and is still active, a
    request resolved after it was created) stay in front; the offset steps over them."""
    low = "-inf" if start is None else repr(start)
    removed = examined = offset = 0
    page = min(budget, 200)
    while examined < budget:
        rows = await client.zrangebyscore(
            index, low, cutoff, start=offset, num=page, withscores=True
        )
        if not rows:
            return removed, None
        ids = [_text(member) for member, _ in rows]
        gone = int(
            await client.eval(_DROP_GONE, 1 + len(ids), index, *map(shape.record, ids), *ids)
        )
        removed += gone
        examined += len(rows)
        offset += len(rows) - gone
        if len(rows) < page:
            return removed, None
        last_score = float(rows[-1][1])
    return removed, last_score


# Removes an index entry only while its record is absent: a record never comes back once
# gone (ids are random and never reused), so an entry that goes never lists a live record.
_DROP_GONE = """
local removed = 0
for i = 1, #ARGV do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
"""


async def _scan_step(client: Any, cursor: int, count: int) -> tuple[int, list[Any]]:
    """One SCAN step over the listing indexes. On a cluster every key of ours shares the
    `{cs}` slot, so the scan asks only the node that serves it."""
    if isinstance(client, RedisCluster):
        node = client.get_node_from_key(INDEX_PATTERN)
        if node is None:  # the slot is moving: look again next sweep
            return cursor, []
        untyped: Any = client  # redis-py types a cluster SCAN as a plain one
        cursors, keys = await untyped.scan(
            cursor, match=INDEX_PATTERN, count=count, _type="zset", target_nodes=node
        )
        return int(cursors[node.name]), list(keys)
    next_cursor, keys = await client.scan(cursor, match=INDEX_PATTERN, count=count, _type="zset")
    return int(next_cursor), list(keys)


# -- the audit log -----------------------------------------------------------------------------


async def trim_audit(client: Any, *, before: datetime, now: datetime, batch: int = BATCH) -> int:
    """Trim up to `batch` audit entries written before `before`, recording the checkpoint in
    the same atomic step; returns how many went (0 when another replica got there first, or
    when the part to trim does not verify: damage is kept for `audit verify` to report)."""
    milliseconds = max(0, int(before.timestamp() * 1000))
    return await trim_audit_before(client, f"{milliseconds}-0", now=now, batch=batch)


async def trim_audit_before(client: Any, bound: str, *, now: datetime, batch: int = BATCH) -> int:
    """Trim up to `batch` of the entries whose stream id is below `bound` (see `trim_audit`)."""
    raw = await client.get(AUDIT_CHECKPOINT_KEY)
    try:
        checkpoint = audit.Checkpoint.parse(raw)
    except audit.CheckpointError:
        log.warning("audit_trim_refused", problem="the retention checkpoint cannot be read")
        return 0
    rows = audit.as_rows(await client.xrange(AUDIT_KEY, min="-", max="(" + bound, count=batch))
    if not rows:
        return 0
    prev = audit.GENESIS if checkpoint is None else checkpoint.hash
    damage = audit.broken_link(prev, rows, checkpoint=checkpoint is not None)
    if damage is not None:
        log.warning("audit_trim_refused", entry=damage.bad_entry, problem=damage.problem)
        return 0
    last_id, last = rows[-1]
    after = audit.Checkpoint(
        id=last_id,
        hash=last["hash"],
        count=(0 if checkpoint is None else checkpoint.count) + len(rows),
        at=now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    expected = "" if raw is None else _text(raw)
    trimmed = await client.eval(
        _TRIM_AUDIT,
        2,
        AUDIT_KEY,
        AUDIT_CHECKPOINT_KEY,
        expected,
        rows[0][0],
        last_id,
        str(len(rows)),
        last["hash"],
        after.dump(),
    )
    return max(0, int(trimmed))


# Trims exactly the entries Python verified (first id .. last id, n of them) and records the
# checkpoint, if the checkpoint is still the one they chain from (else another replica trimmed
# first: -1) and the entries are still those (-2). Appends at the tail are untouched: the
# transitions that WATCH the head never conflict with it.
_TRIM_AUDIT = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return -1 end
local n = tonumber(ARGV[4])
local rows = redis.call('XRANGE', KEYS[1], '-', ARGV[3], 'COUNT', n + 1)
if #rows ~= n or rows[1][1] ~= ARGV[2] or rows[n][1] ~= ARGV[3] then return -2 end
local fields, hash = rows[n][2], nil
for i = 1, #fields, 2 do
  if fields[i] == 'hash' then hash = fields[i + 1] end
end
if hash ~= ARGV[5] then return -2 end
local threshold
local after = redis.call('XRANGE', KEYS[1], '(' .. ARGV[3], '+', 'COUNT', 1)
if #after > 0 then
  threshold = after[1][1]
else
  local ms, seq = string.match(ARGV[3], '^(%d+)-(%d+)$')
  threshold = ms .. '-' .. string.format('%d', tonumber(seq) + 1)
end
local removed = redis.call('XTRIM', KEYS[1], 'MINID', threshold)
redis.call('SET', KEYS[2], ARGV[6])
return removed
"""


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
