"""The audit log: an append-only Redis Stream whose entries are hash-chained.

Each entry holds the event as canonical JSON, the SHA-256 of the previous entry (`prev`) and
its own (`hash` = SHA-256 of prev, a newline and the event JSON). The head key remembers the
last hash and the count, so deleting the newest entry is caught as well as editing or
deleting any other. Entries are appended inside the same MULTI as the state change they
record (see `redis_workflow`). Retention trims the oldest entries behind a checkpoint (the last
trimmed entry's id and hash), from which the kept part verifies (ADR 0004, addendum).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.adapters.store.keys import AUDIT_CHECKPOINT_KEY, AUDIT_HEAD_KEY, AUDIT_KEY
from app.services.errors import BadCursorError

GENESIS = "0" * 64
#: A stream entry id, `<milliseconds>-<sequence>`: the only cursor `read_page` accepts.
ENTRY_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")
_MAX_ID_PART = 2**64 - 1
_HASH = re.compile(r"^[0-9a-f]{64}$")


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


class CheckpointError(ValueError):
    """The checkpoint key holds something that is not a checkpoint."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where retention cut the log: the id and chain hash of the last trimmed entry, how many
    entries have been trimmed since the log began, and when (ISO 8601, UTC) the cut was made.
    The first kept entry's `prev` must be `hash`; `count` plus the kept entries must be the
    head's count. Stored as canonical JSON with `"version": 1` (ADR 0004, addendum)."""

    id: str
    hash: str
    count: int
    at: str

    @classmethod
    def parse(cls, raw: bytes | str | None) -> Checkpoint | None:
        """Read the checkpoint key; absent means nothing was ever trimmed."""
        if raw is None:
            return None
        try:
            body = json.loads(raw)
            checkpoint = cls(str(body["id"]), str(body["hash"]), body["count"], str(body["at"]))
            version = body["version"]
        except (ValueError, KeyError, TypeError):
            raise CheckpointError("not a checkpoint") from None
        if (
            version != 1
            or not _is_entry_id(checkpoint.id)
            or not _HASH.match(checkpoint.hash)
            or type(checkpoint.count) is not int
            or checkpoint.count < 1
        ):
            raise CheckpointError("not a checkpoint")
        return checkpoint

    def dump(self) -> str:
        """The checkpoint key's value: the canonical JSON a later anchor may sign."""
        return canonical(
            {"at": self.at, "count": self.count, "hash": self.hash, "id": self.id, "version": 1}
        )

    def as_dict(self) -> dict[str, Any]:
        """The checkpoint as `audit export` writes it."""
        return {"id": self.id, "hash": self.hash, "count": self.count, "at": self.at}


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
    #: Where retention cut the log; `checked` counts the kept entries after it.
    checkpoint: Checkpoint | None = None


Row = tuple[str, dict[str, str]]


async def entries(
    client: Any, *, batch: int = 1000, after: str | None = None
) -> AsyncIterator[Row]:
    """Every entry (after the id `after`, if given), oldest first, as (stream id, fields)."""
    start = "-" if after is None else "(" + after
    while True:
        rows = await client.xrange(AUDIT_KEY, min=start, max="+", count=batch)
        if not rows:
            return
        for row in as_rows(rows):
            yield row
        start = "(" + _text(rows[-1][0])


async def start_of_log(client: Any, *, batch: int = 1000) -> tuple[Checkpoint | None, list[Row]]:
    """The checkpoint and the first `batch` kept entries, read in one MULTI: a trim between
    the two reads would otherwise look like a broken link (CheckpointError if unreadable)."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.get(AUDIT_CHECKPOINT_KEY)
        pipe.xrange(AUDIT_KEY, min="-", max="+", count=batch)
        raw, rows = await pipe.execute()
    return Checkpoint.parse(raw), as_rows(rows)


def broken_link(prev: str, rows: Iterable[Row], *, checkpoint: bool = False) -> Verdict | None:
    """The first of `rows` that does not chain on from `prev` (a Verdict naming it), or None.
    With `checkpoint`, `prev` is a retention checkpoint's hash rather than an entry's."""
    checked = 0
    for entry_id, fields in rows:
        if fields.get("prev") != prev:
            if checkpoint and checked == 0:
                problem = (
                    "previous hash does not match the retention checkpoint: the checkpoint or "
                    "the oldest kept entries were changed or deleted"
                )
            else:
                problem = "previous hash does not match: an entry before it was deleted or changed"
            return Verdict(False, checked, entry_id, problem)
        if entry_hash(prev, fields.get("event", "")) != fields.get("hash"):
            return Verdict(False, checked, entry_id, "content does not match its hash: edited")
        prev, checked = fields["hash"], checked + 1
    return None


async def verify(
    client: Any, *, batch: int = 1000, on_page: Callable[[int, list[Row]], None] | None = None
) -> Verdict:
    """Walk the chain from the retention checkpoint (else from the genesis): each `prev` must
    be the previous `hash` (the first kept entry's, the checkpoint's), each `hash` must match
    its content, and the newest hash and the count (trimmed plus kept) must match the head.
    `on_page` sees each page once it chains, with the count of the entries before it (signed
    checkpoints are matched against the walk this way, ADR 0018)."""
    try:
        checkpoint, first = await start_of_log(client, batch=batch)
    except CheckpointError:
        problem = f"the retention checkpoint {AUDIT_CHECKPOINT_KEY} cannot be read"
        return Verdict(False, 0, None, problem)
    prev = GENESIS if checkpoint is None else checkpoint.hash
    trimmed = 0 if checkpoint is None else checkpoint.count
    if checkpoint is not None and first and not _is_after(first[0][0], checkpoint.id):
        problem = "the entry is not newer than the retention checkpoint: the checkpoint was changed"
        return Verdict(False, 0, first[0][0], problem, checkpoint)
    checked, last_id = 0, None
    rest = entries(client, batch=batch, after=first[-1][0] if first else None)
    async for page in _pages(first, rest, batch):
        damage = broken_link(prev, page, checkpoint=checkpoint is not None and checked == 0)
        if damage is not None:
            return dataclasses.replace(
                damage, checked=checked + damage.checked, checkpoint=checkpoint
            )
        if on_page is not None:
            on_page(trimmed + checked, page)
        prev, checked, last_id = page[-1][1]["hash"], checked + len(page), page[-1][0]
    head = Head.parse(await client.get(AUDIT_HEAD_KEY))
    if head.hash != prev or head.count != trimmed + checked:
        where = last_id or "(start)"
        problem = (
            f"the log ends at {trimmed + checked} entries but the head records {head.count}: "
            "the newest entries were deleted"
        )
        return Verdict(False, checked, where, problem, checkpoint)
    return Verdict(True, checked, checkpoint=checkpoint)


async def _pages(first: list[Row], rest: AsyncIterator[Row], size: int) -> AsyncIterator[list[Row]]:
    """`first`, then the rows of `rest` in lists of up to `size`."""
    if first:
        yield first
    page: list[Row] = []
    async for row in rest:
        page.append(row)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def as_rows(rows: Iterable[Any]) -> list[Row]:
    """XRANGE rows as (stream id, fields) text."""
    return [(_text(i), {_text(k): _text(v) for k, v in f.items()}) for i, f in rows]


def _is_after(entry_id: str, other: str) -> bool:
    """Whether stream id `entry_id` is newer than `other`."""
    return tuple(int(p) for p in entry_id.split("-")) > tuple(int(p) for p in other.split("-"))


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
