"""The audit log: an append-only Redis Stream whose entries are hash-chained.

Each entry holds the event as canonical JSON, the SHA-256 of the previous entry (`prev`) and
its own (`hash` = SHA-256 of prev, a newline and the event JSON). The head key remembers the
last hash and the count, so deleting the newest entry is caught as well as editing or
deleting any other. Entries are appended inside the same MULTI as the state change they
record (see `redis_workflow`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.adapters.store.keys import AUDIT_HEAD_KEY, AUDIT_KEY

GENESIS = "0" * 64


def canonical(body: Mapping[str, Any]) -> str:
    """The one JSON spelling of an event that its hash covers."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev: str, event_json: str) -> str:
    """SHA-256 over the previous hash and this entry's event."""
    return hashlib.sha256(f"{prev}\n{event_json}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Head:
    """The newest entry's hash and how many entries the chain holds."""

    hash: str = GENESIS
    count: int = 0

    @classmethod
    def parse(cls, raw: bytes | str | None) -> Head:
        """Read the head key; absent means an empty log."""
        if raw is None:
            return cls()
        body = json.loads(raw)
        return cls(str(body["hash"]), int(body["count"]))

    def dump(self) -> str:
        """The head key's value."""
        return json.dumps({"hash": self.hash, "count": self.count})


def chain(head: Head, events: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, str]], Head]:
    """Stream entries for `events` after `head`, and the new head."""
    entries: list[dict[str, str]] = []
    prev, count = head.hash, head.count
    for body in events:
        text = canonical(body)
        digest = entry_hash(prev, text)
        entries.append({"event": text, "prev": prev, "hash": digest})
        prev, count = digest, count + 1
    return entries, Head(prev, count)


def queue_append(pipe: Any, entries: list[dict[str, str]], head: Head) -> None:
    """Add the entries and the new head to a MULTI pipeline."""
    for entry in entries:
        pipe.xadd(AUDIT_KEY, entry)
    pipe.set(AUDIT_HEAD_KEY, head.dump())


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of `verify`: intact, or the first bad entry and what is wrong with it."""

    ok: bool
    checked: int
    bad_entry: str | None = None
    problem: str | None = None


async def entries(client: Any, *, batch: int = 1000) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """Every entry, oldest first, as (stream id, fields)."""
    start = "-"
    while True:
        rows = await client.xrange(AUDIT_KEY, min=start, max="+", count=batch)
        if not rows:
            return
        for raw_id, raw_fields in rows:
            entry_id = _text(raw_id)
            yield entry_id, {_text(k): _text(v) for k, v in raw_fields.items()}
        last = _text(rows[-1][0])
        start = "(" + last


async def verify(client: Any) -> Verdict:
    """Walk the chain: each `prev` must be the previous `hash`, each `hash` must match its
    content, and the newest hash and the count must match the head key."""
    prev, checked, last_id = GENESIS, 0, None
    async for entry_id, fields in entries(client):
        if fields.get("prev") != prev:
            problem = "previous hash does not match: an entry before it was deleted or changed"
            return Verdict(False, checked, entry_id, problem)
        if entry_hash(prev, fields.get("event", "")) != fields.get("hash"):
            return Verdict(False, checked, entry_id, "content does not match its hash: edited")
        prev, checked, last_id = fields["hash"], checked + 1, entry_id
    head = Head.parse(await client.get(AUDIT_HEAD_KEY))
    if head.hash != prev or head.count != checked:
        where = last_id or "(start)"
        problem = (
            f"the log ends at {checked} entries but the head records {head.count}: "
            "the newest entries were deleted"
        )
        return Verdict(False, checked, where, problem)
    return Verdict(True, checked)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
