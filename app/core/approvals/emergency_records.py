"""What a request records about its escalation, and a grant about its break-glass use: small
values nested in the request and grant records (absent in records written before them).

Kept apart from request.py and grant.py so those stay about the common case; the transitions
that change them are core.approvals.escalation and core.approvals.break_glass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from app.core.approvals.codec import (
    Fields,
    RecordError,
    encode_optional_time,
    encode_seconds,
    encode_time,
)


@dataclass(frozen=True, slots=True)
class EscalationState:
    """A request under a policy with `escalate_after`: the delay it was opened with, and when
    (if yet) it escalated to the fallback approvers."""

    after: timedelta
    escalated_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "after": encode_seconds(self.after),
            "escalated_at": encode_optional_time(self.escalated_at),
        }

    @classmethod
    def read(cls, fields: Fields) -> EscalationState:
        """Decode from checked fields."""
        return cls(after=fields.seconds("after"), escalated_at=fields.optional_time("escalated_at"))


class Verdict(Enum):
    """An approver's after-the-fact judgement of one break-glass use."""

    JUSTIFIED = "justified"
    NOT_JUSTIFIED = "not-justified"


@dataclass(frozen=True, slots=True)
class BreakGlassState:
    """A grant someone gave themselves in an emergency: by when an approver must review it,
    the review once given, and when it was reported overdue (once, by whichever replica's
    sweep got there first)."""

    review_due_at: datetime
    verdict: Verdict | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    comment: str | None = None
    overdue_at: datetime | None = None

    @property
    def reviewed(self) -> bool:
        """Whether an approver has judged this use."""
        return self.verdict is not None

    def overdue(self, now: datetime) -> bool:
        """Whether the review is still missing at or after its deadline."""
        return not self.reviewed and now >= self.review_due_at

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "review_due_at": encode_time(self.review_due_at),
            "verdict": self.verdict.value if self.verdict is not None else None,
            "reviewed_by": self.reviewed_by,
            "reviewed_at": encode_optional_time(self.reviewed_at),
            "comment": self.comment,
            "overdue_at": encode_optional_time(self.overdue_at),
        }

    @classmethod
    def read(cls, fields: Fields) -> BreakGlassState:
        """Decode from checked fields."""
        verdict = fields.choice("verdict", Verdict) if fields.raw("verdict") is not None else None
        return cls(
            review_due_at=fields.time("review_due_at"),
            verdict=verdict,
            reviewed_by=fields.optional_text("reviewed_by"),
            reviewed_at=fields.optional_time("reviewed_at"),
            comment=fields.optional_text("comment"),
            overdue_at=fields.optional_time("overdue_at"),
        )


def read_optional(fields: Fields, key: str) -> Fields | None:
    """The nested object under `key`, or None when the key is absent or null (older records)."""
    try:
        value = fields.raw(key)
    except RecordError:  # "missing": a record written before the field existed
        return None
    return None if value is None else fields.nested(key)
