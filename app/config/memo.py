"""The decision memo's settings (`DECISION_MEMO_*`): how many decisions forward-auth keeps and
for how long at most (docs/adr/0012)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.config import values

#: (key, default, description, parser) of each setting; app.config.spec makes them Specs.
MEMO_SPECS: tuple[tuple[str, str | None, str, Callable[[object], Any]], ...] = (
    (
        "decision_memo_size",
        "10000",
        "Forward-auth decisions remembered per process, for policies that judge only who asks "
        "(group, email, email domain, claim); 0 turns the memo off.",
        values.integer(0, 1_000_000),
    ),
    (
        "decision_memo_max_age",
        "10s",
        "Longest a remembered decision is reused (it also ends at a policy reload, a grant "
        "change and the grant's own end).",
        values.bounded_duration(timedelta(seconds=1), timedelta(minutes=5)),
    ),
)


class DecisionMemoSettings(BaseModel):
    """How many decisions the forward-auth memo keeps (0: none) and for how long at most."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    size: int
    max_age: timedelta
