"""Signed audit checkpoints (ADR 0018): what one says — the audit log held `count` entries and
the newest of them had chain hash `hash`, at time `at` — the exact bytes its signature covers,
and its two spellings: an audit event (`audit_checkpoint`) and a line of the checkpoint file.

Pure: the signature is made and checked by the caller with Countersign's Ed25519 key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: The audit event type of a checkpoint entry.
EVENT_TYPE = "audit_checkpoint"
VERSION = 1
#: Prefixed to the signed bytes, so a checkpoint signature can never be taken for a signature
#: over anything else the same key might sign.
DOMAIN = b"countersign-audit-checkpoint\n"
_HASH = re.compile(r"^[0-9a-f]{64}$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_SIGNATURE = re.compile(r"^[A-Za-z0-9_-]{86}$")  # 64 bytes, base64url without padding
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_FIELDS = frozenset({"version", "count", "hash", "at", "key_id", "signature"})


class CheckpointRecordError(ValueError):
    """Something that should be a signed checkpoint is not one; the message names the field."""


@dataclass(frozen=True, slots=True)
class CheckpointClaim:
    """What a checkpoint asserts: after `count` entries the chain hash was `hash` (`at`: when
    it was signed, ISO 8601 UTC to the second)."""

    count: int
    hash: str
    at: str

    @classmethod
    def of(cls, *, count: int, hash: str, at: datetime) -> CheckpointClaim:
        """The claim about the entry at `count` (1 for the first entry ever written)."""
        if count < 1 or not _HASH.match(hash):
            raise CheckpointRecordError("a checkpoint pins an entry: count >= 1, a SHA-256 hash")
        moment = at.astimezone(UTC).replace(microsecond=0, tzinfo=None)
        return cls(count, hash, moment.isoformat() + "Z")

    def payload(self) -> bytes:
        """The bytes the signature covers: the domain, then canonical JSON of the claim."""
        body = {"at": self.at, "count": self.count, "hash": self.hash, "version": VERSION}
        return DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A claim, the id of the key that signed it and the signature (base64url, no padding)."""

    claim: CheckpointClaim
    key_id: str
    signature: str

    @property
    def count(self) -> int:
        """How many entries the log held."""
        return self.claim.count

    @property
    def hash(self) -> str:
        """The chain hash of the entry at `count`."""
        return self.claim.hash

    def as_dict(self) -> dict[str, Any]:
        """A line of the checkpoint file, and the `data` of the audit event."""
        return {
            "version": VERSION,
            "count": self.claim.count,
            "hash": self.claim.hash,
            "at": self.claim.at,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    def event(self) -> dict[str, Any]:
        """The body of the audit entry that records this checkpoint, shaped like every other
        event (no application, user or actor: time made it), so readers need no special case."""
        return {
            "type": EVENT_TYPE,
            "at": self.claim.at,
            "application": "",
            "user": "",
            "actor": None,
            "request_id": None,
            "grant_id": None,
            "data": self.as_dict(),
        }

    @classmethod
    def from_dict(cls, raw: object) -> SignedCheckpoint:
        """Read `as_dict` output; raise CheckpointRecordError naming what is wrong."""
        if not isinstance(raw, Mapping):
            raise CheckpointRecordError("expected an object")
        missing = sorted(_FIELDS - raw.keys())
        if missing:
            raise CheckpointRecordError(f"missing {', '.join(missing)}")
        if raw["version"] != VERSION:
            raise CheckpointRecordError(f"version: expected {VERSION}")
        count = raw["count"]
        if type(count) is not int or count < 1:
            raise CheckpointRecordError("count: expected a whole number from 1")
        checks = (("hash", _HASH), ("at", _TIME), ("key_id", _KEY_ID), ("signature", _SIGNATURE))
        for name, pattern in checks:
            value = raw[name]
            if not isinstance(value, str) or not pattern.match(value):
                raise CheckpointRecordError(f"{name}: malformed")
        claim = CheckpointClaim(count, raw["hash"], raw["at"])
        return cls(claim, raw["key_id"], raw["signature"])


def checkpoint_in(line: object) -> SignedCheckpoint | None:
    """The checkpoint a JSON line carries, or None for a line about something else.

    Accepted: a line of the checkpoint file; an audit event of type `audit_checkpoint` (what
    a sink delivers); an `audit export` line whose `event` is one. A line that says it is a
    checkpoint but is malformed raises CheckpointRecordError: it is evidence, not noise.
    """
    if not isinstance(line, Mapping):
        raise CheckpointRecordError("expected a JSON object")
    if "signature" in line:
        return SignedCheckpoint.from_dict(line)
    event = line.get("event", line)
    if isinstance(event, Mapping) and event.get("type") == EVENT_TYPE:
        return SignedCheckpoint.from_dict(event.get("data"))
    return None
