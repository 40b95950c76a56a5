"""What a sink receives: one record per audit entry, the same JSON in every sink.

A record is the entry's stream id (the de-duplication key: ids only grow), its chain hashes
and its event. The event is the object whose canonical JSON the hash covers, so a receiver can
check the chain itself (`hash` = SHA-256 of `prev`, a newline and the canonical event JSON).
An entry whose event does not parse is delivered as its raw text: a sink never drops one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.adapters.store.audit import Row


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit entry as the sinks deliver it."""

    id: str
    hash: str
    prev: str
    #: The event object, or the raw text of an entry that is not JSON.
    event: dict[str, Any] | str

    @classmethod
    def of(cls, row: Row) -> AuditRecord:
        """From an XRANGE row of the audit stream."""
        entry_id, fields = row
        text = fields.get("event", "")
        try:
            event: dict[str, Any] | str = json.loads(text)
        except ValueError:
            event = text
        if not isinstance(event, dict):
            event = text
        return cls(entry_id, fields.get("hash", ""), fields.get("prev", ""), event)

    @property
    def type(self) -> str:
        """The event type (`request_submitted`, ...), or "" when unreadable."""
        kind = self.event.get("type") if isinstance(self.event, dict) else None
        return kind if isinstance(kind, str) else ""

    @property
    def written(self) -> datetime:
        """When Redis appended the entry: the milliseconds part of its id."""
        return datetime.fromtimestamp(int(self.id.split("-", 1)[0]) / 1000, UTC)

    def json(self) -> str:
        """One line of JSON (sorted keys, no newline inside)."""
        body = {"id": self.id, "hash": self.hash, "prev": self.prev, "event": self.event}
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_lines(records: Iterable[AuditRecord]) -> bytes:
    """The records as JSON lines, each ending in a newline."""
    return "".join(record.json() + "\n" for record in records).encode()


def id_key(entry_id: str) -> tuple[int, int]:
    """A stream id as a pair that orders like the stream."""
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)
