"""Deliveries given up on (the dead-letter stream), and sending them again.

A replay puts the delivery back at the end of its queue (the same channel, ordered by the same
request), with its tries forgotten, and schedules the queue now: the next replica's retry loop
sends it, with the usual retries and backoff. The dead letter is removed in the same script, so
two operators replaying at once send it once. A delivery whose outbox entry is gone (trimmed
by the stream's length cap) cannot be replayed: what to say was in that entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.adapters.notify.entries import decode
from app.adapters.notify.keys import (
    ATTEMPTS_KEY,
    DEAD_KEY,
    RETRY_KEY,
    attempts_field,
    member,
    queue_key,
)
from app.adapters.store.keys import OUTBOX_KEY

# KEYS: dead, queue, attempts, retry  ARGV: dead id, entry id, attempts field, member, now
_REQUEUE = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[4], 'NX', ARGV[5], ARGV[4])
return 1
"""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One delivery given up on, as the notifier recorded it."""

    id: str
    entry: str
    channel: str
    topic: str | None
    request_id: str | None
    application: str | None
    attempts: int
    problem: str
    at: str

    @classmethod
    def parse(cls, letter_id: str, record: dict[str, Any]) -> DeadLetter:
        """From a stream entry's JSON record; missing fields become empty."""
        return cls(
            id=letter_id,
            entry=str(record.get("entry") or ""),
            channel=str(record.get("channel") or ""),
            topic=record.get("topic"),
            request_id=record.get("request_id"),
            application=record.get("application"),
            attempts=int(record.get("attempts") or 0),
            problem=str(record.get("problem") or ""),
            at=str(record.get("at") or ""),
        )


async def read(client: Any, *, channel: str | None = None, limit: int = 1000) -> list[DeadLetter]:
    """Dead letters, oldest first (only `channel`'s when given)."""
    letters = []
    for raw_id, fields in await client.xrange(DEAD_KEY, "-", "+", count=limit):
        values = {_text(k): _text(v) for k, v in fields.items()}
        try:
            record = json.loads(values.get("dead", ""))
        except ValueError:
            record = {"problem": "unreadable dead letter"}
        letter = DeadLetter.parse(_text(raw_id), record if isinstance(record, dict) else {})
        if channel is None or letter.channel == channel:
            letters.append(letter)
    return letters


async def replay(client: Any, letter: DeadLetter, *, now: float) -> str:
    """Queue `letter`'s delivery again. Returns "queued", "gone" (its outbox entry no longer
    exists or notifies nobody) or "taken" (someone replayed or removed it meanwhile)."""
    rows = await client.xrange(OUTBOX_KEY, letter.entry, letter.entry) if letter.entry else []
    if not rows or not letter.channel:
        return "gone"
    try:
        trigger = decode(rows[0][1])
    except (ValueError, KeyError):
        return "gone"
    if trigger is None:
        return "gone"
    order_key = trigger.order_key
    done = await client.eval(
        _REQUEUE,
        4,
        DEAD_KEY,
        queue_key(letter.channel, order_key),
        ATTEMPTS_KEY,
        RETRY_KEY,
        letter.id,
        letter.entry,
        attempts_field(letter.entry, letter.channel),
        member(letter.channel, order_key),
        now,
    )
    return "queued" if int(done) else "taken"


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)
