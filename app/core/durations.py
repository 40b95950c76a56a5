"""Durations in the policy notation (`90s`, `15m`, `4h`, `7d`) and ISO 8601 (`PT30M`)."""

from __future__ import annotations

import re
from datetime import timedelta

_SHORT = re.compile(r"^([1-9][0-9]{0,8})(s|m|h|d)$")
_ISO = re.compile(
    r"^P(?:(?P<d>[0-9]{1,6})D)?(?:T(?:(?P<h>[0-9]{1,6})H)?(?:(?P<m>[0-9]{1,8})M)?(?:(?P<s>[0-9]{1,9})S)?)?$"
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Nothing in Countersign lasts longer than this; larger values are typos.
MAX_DURATION = timedelta(days=3660)


class DurationError(ValueError):
    """A string that is not a positive duration Countersign understands."""


def parse_duration(text: str, *, allow_iso: bool = False) -> timedelta:
    """Parse `90s`/`15m`/`4h`/`7d` (and ISO 8601 `PT30M` when allowed) into a positive timedelta."""
    if not isinstance(text, str):
        raise DurationError("a duration must be a string such as '30m' or '4h'")
    match = _SHORT.match(text)
    if match:
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    elif (
        allow_iso
        and (iso := _ISO.match(text))
        and text not in ("P", "PT")
        and not text.endswith("T")
    ):
        parts = {k: int(v) for k, v in iso.groupdict().items() if v}
        seconds = (
            parts.get("d", 0) * 86400
            + parts.get("h", 0) * 3600
            + parts.get("m", 0) * 60
            + parts.get("s", 0)
        )
    else:
        hint = " or ISO 8601 like 'PT30M'" if allow_iso else ""
        raise DurationError(f"'{text[:40]}' is not a duration; use a number and s, m, h or d{hint}")
    if seconds <= 0:
        raise DurationError("a duration must be greater than zero")
    value = timedelta(seconds=seconds)
    if value > MAX_DURATION:
        raise DurationError(f"'{text[:40]}' is longer than the maximum of {MAX_DURATION.days} days")
    return value


def format_duration(value: timedelta) -> str:
    """Render a timedelta in the largest exact policy unit (`2h`, `90m`, `45s`)."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_WORDS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def in_words(value: timedelta) -> str:
    """A duration for people, in the largest exact unit: `15 minutes`, `1 hour`, `8 hours`,
    `90 seconds` (messages and pages say this, never a raw count of seconds)."""
    seconds = int(value.total_seconds())
    for name, size in _WORDS:
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {name}" + ("" if count == 1 else "s")
    return f"{seconds} seconds"
