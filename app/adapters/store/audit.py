"""The audit log: an append-only Redis Stream whose entries are hash-chained.

Each entry holds the event as canonical JSON, the SHA-256 of the previous entry (`prev`) and
its own (`hash` = SHA-256 of prev, a newline and the event JSON). The head key remembers the
last hash and the count, so deleting the newest entry is caught as well as editing or
deleting any other. Entries are appended inside the same MULTI as the state change they
record (see `redis_workflow`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.adapters.store.keys import AUDIT_HEAD_KEY, AUDIT_KEY
from app.services.errors import BadCursorError

GENESIS = "0" * 64
#: A stream entry id, `<milliseconds>-<sequence>`: the only cursor `read_page` accepts.
ENTRY_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")
_MAX_ID_PART = 2**64 - 1


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


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """One page of the log, newest first: entries strictly older than `before` (an entry id),
    written from `since` to `until`, about `application` / `user`, of one event `type`."""

    before: str | None = None
    limit: int = 50
    since: datetime | None = None
    until: datetime | None = None
    application: str | None = None
    user: str | None = None
    type: str | None = None

    def keeps(self, event: Mapping[str, Any] | None) -> bool:
        """Whether an entry's event passes the filters (an unreadable one passes none)."""
        if self.application is None and self.user is None and self.type is None:
            return True
        if event is None:
            return False
        return (
            (self.application is None or event.get("application") == self.application)
            and (self.user is None or event.get("user") == self.user)
            and (self.type is None or event.get("type") == self.type)
        )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry: its stream id, the event (None if it does not parse), and its chain hashes."""

    id: str
    event: dict[str, Any] | None
    hash: str
    prev: str


async def read_page(
    client: Any, query: AuditQuery, *, scan_limit: int = 5000
) -> tuple[list[AuditEntry], str | None]:
    """Entries matching `query`, newest first, and the cursor of the next page (None: the end).

    At most `scan_limit` entries are read per call, so a filter that matches little returns a
    short (even empty) page with a cursor rather than walking the whole log.
    """
    if query.before is not None:
        if not _is_entry_id(query.before):
            raise BadCursorError(query.before[:40])
        milliseconds, sequence = (int(part) for part in query.before.split("-"))
        if milliseconds == 0 and sequence == 0:  # nothing is older than the first possible id
            return [], None
        # Redis wants the canonical spelling: `0000007-0` is refused as an interval end.
        query = dataclasses.replace(query, before=f"{milliseconds}-{sequence}")
    limit = max(1, min(query.limit, 200))
    high = _upper_bound(query.before, query.until)
    low = str(_milliseconds(query.since)) if query.since is not None else "-"
    found: list[AuditEntry] = []
    scanned = 0
    while scanned < scan_limit:
        batch = min(limit * 4, scan_limit - scanned)
        rows = await client.xrevrange(AUDIT_KEY, max=high, min=low, count=batch)
        for raw_id, raw_fields in rows:
            entry = _entry(_text(raw_id), {_text(k): _text(v) for k, v in raw_fields.items()})
            high = "(" + entry.id
            if query.keeps(entry.event):
                found.append(entry)
                if len(found) == limit:
                    return found, entry.id
        if len(rows) < batch:
            return found, None
        scanned += len(rows)
    return found, high[1:]


def _is_entry_id(text: str) -> bool:
    if not ENTRY_ID.match(text):
        return False
    return all(int(part) <= _MAX_ID_PART for part in text.split("-"))


def _upper_bound(before: str | None, until: datetime | None) -> str:
    if until is None:
        return "(" + before if before is not None else "+"
    ceiling = _milliseconds(until)
    if before is not None and int(before.split("-", 1)[0]) <= ceiling:
        return "(" + before
    return str(ceiling)  # an incomplete id as the upper bound takes the whole millisecond


def _milliseconds(moment: datetime) -> int:
    return max(0, int(moment.timestamp() * 1000))


def _entry(entry_id: str, fields: Mapping[str, str]) -> AuditEntry:
    try:
        event = json.loads(fields.get("event", ""))
    except ValueError:
        event = None
    return AuditEntry(
        id=entry_id,
        event=event if isinstance(event, dict) else None,
        hash=fields.get("hash", ""),
        prev=fields.get("prev", ""),
    )


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
