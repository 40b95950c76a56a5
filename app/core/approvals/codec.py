"""JSON-ready encoding helpers for the approval records: UTC timestamps with `Z`, durations as
integer seconds, and a strict reader that names the offending field of malformed input."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TypeVar

E = TypeVar("E", bound=Enum)

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


class RecordError(ValueError):
    """A stored or received record that does not have the expected shape."""


def encode_time(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`: `2024-05-06T10:00:00Z` (microseconds only when set)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("refusing to encode a naive datetime")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def encode_optional_time(value: datetime | None) -> str | None:
    """encode_time, passing None through."""
    return None if value is None else encode_time(value)


def encode_seconds(value: timedelta | None) -> int | None:
    """Whole seconds (durations are whole seconds by construction), passing None through."""
    return None if value is None else int(value.total_seconds())


class Fields:
    """Typed access to one JSON object; every failure names its path, e.g. `$.reviews[0].at`."""

    __slots__ = ("_raw", "path")

    def __init__(self, raw: object, path: str = "$") -> None:
        if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
            raise RecordError(f"{path}: expected an object")
        self._raw: Mapping[str, object] = raw
        self.path = path

    def _fail(self, key: str, what: str) -> RecordError:
        return RecordError(f"{self.path}.{key}: expected {what}")

    def _get(self, key: str) -> object:
        if key not in self._raw:
            raise RecordError(f"{self.path}.{key}: missing")
        return self._raw[key]

    def text(self, key: str) -> str:
        """A non-empty string."""
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise self._fail(key, "a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        """A string or null (an empty string is kept: a browser may send an empty User-Agent)."""
        value = self._get(key)
        if value is not None and not isinstance(value, str):
            raise self._fail(key, "a string or null")
        return value

    def maybe_text(self, key: str) -> str | None:
        """`optional_text` for a field added later: a record written before it has none."""
        return self.optional_text(key) if key in self._raw else None

    def integer(self, key: str, *, minimum: int = 0) -> int:
        """An integer (not a boolean) of at least `minimum`."""
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._fail(key, f"an integer of at least {minimum}")
        return value

    def boolean(self, key: str) -> bool:
        """true or false."""
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        """A list of strings."""
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "a list of strings")
        return tuple(value)

    def time(self, key: str) -> datetime:
        """A UTC timestamp like `2024-05-06T10:00:00Z`."""
        value = self._get(key)
        if not isinstance(value, str) or not _TIMESTAMP.match(value):
            raise self._fail(key, "a UTC timestamp like 2024-05-06T10:00:00Z")
        try:
            return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
        except ValueError:
            raise self._fail(key, "a real date and time") from None

    def optional_time(self, key: str) -> datetime | None:
        """A UTC timestamp or null."""
        return None if self._get(key) is None else self.time(key)

    def maybe_time(self, key: str) -> datetime | None:
        """`optional_time` for a field added later: a record written before it has none."""
        return self.optional_time(key) if key in self._raw else None

    def seconds(self, key: str) -> timedelta:
        """A positive whole number of seconds."""
        value = self.integer(key, minimum=1)
        try:
            return timedelta(seconds=value)
        except OverflowError:
            raise self._fail(key, "a representable number of seconds") from None

    def optional_seconds(self, key: str) -> timedelta | None:
        """Positive whole seconds or null."""
        return None if self._get(key) is None else self.seconds(key)

    def choice(self, key: str, kind: type[E]) -> E:
        """One of an enum's values."""
        value = self._get(key)
        for member in kind:
            if member.value == value:
                return member
        allowed = ", ".join(str(m.value) for m in kind)
        raise self._fail(key, f"one of {allowed}")

    def nested(self, key: str) -> Fields:
        """A nested object."""
        return Fields(self._get(key), f"{self.path}.{key}")

    def items(self, key: str) -> list[Fields]:
        """A list of objects."""
        value = self._get(key)
        if not isinstance(value, list):
            raise self._fail(key, "a list")
        return [Fields(item, f"{self.path}.{key}[{i}]") for i, item in enumerate(value)]

    def raw(self, key: str) -> object:
        """The value as it is, for callers that check it themselves."""
        return self._get(key)
