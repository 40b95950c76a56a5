"""Points in time the API accepts (a planned window's `starts_at`): RFC 3339 only, with an
explicit offset. A time without one is refused rather than guessed at: the server's zone, the
caller's and UTC would each open the door at another hour."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field

from app.adapters.api.v1.problems import ProblemError

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$")

MomentText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        description=(
            "RFC 3339 with an offset, e.g. `2026-12-03T22:00:00Z` or"
            " `2026-12-03T23:00:00+01:00`; a time without an offset is refused."
        ),
        examples=["2026-12-03T22:00:00Z"],
    ),
]


def to_moment(value: str | None, *, field: str = "starts_at") -> datetime | None:
    """A timezone-aware UTC datetime, or 422 `time-without-offset` / `time-invalid`."""
    if value is None:
        return None
    given = value.strip()
    if _NAIVE.match(given):
        raise ProblemError(422, "time-without-offset", f"{field} needs an offset, e.g. Z or +01:00")
    if not _RFC3339.match(given):
        raise ProblemError(422, "time-invalid", f"{field} must be an RFC 3339 date and time")
    text = given.replace("z", "Z").replace("t", "T")
    if "." in text:  # Python keeps microseconds: drop what lies beyond them
        head, _, tail = text.partition(".")
        digits = re.match(r"\d+", tail)
        fraction = digits.group(0) if digits else ""
        text = f"{head}.{fraction[:6]}{tail[len(fraction) :]}"
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        raise ProblemError(422, "time-invalid", f"{field} is not a real date and time") from None
