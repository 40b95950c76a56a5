"""Durations in the policy notation (`90s`, `15m`, `4h`, `7d`) and, where allowed, ISO 8601."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.durations import MAX_DURATION, DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("4h", timedelta(hours=4)),
        ("7d", timedelta(days=7)),
        ("1s", timedelta(seconds=1)),
    ],
)
def test_short_notation(text: str, expected: timedelta) -> None:
    """A positive whole number followed by s, m, h or d."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "0s", "-5m", "1.5h", "01h", "1 h", " 1h", "1h ", "1H", "1w", "1y", "h", "1h30m"]
)
def test_malformed_short_notation_is_refused(text: str) -> None:
    """Zero, signs, fractions, padding, spaces, capitals, other units and compounds are refused."""
    with pytest.raises(DurationError):
        parse_duration(text)


def test_error_message_says_how_to_write_one() -> None:
    """The message quotes the text and names the units."""
    with pytest.raises(
        DurationError, match=r"^'1y' is not a duration; use a number and s, m, h or d$"
    ):
        parse_duration("1y")


@pytest.mark.parametrize("value", [3600, 1.5, None, True, ["1h"]])
def test_non_strings_are_refused(value: object) -> None:
    """Only strings are durations; a bare number has no unit."""
    with pytest.raises(DurationError, match="must be a string"):
        parse_duration(value)  # type: ignore[arg-type]


def test_the_maximum_is_accepted() -> None:
    """Exactly the maximum (3660 days) is allowed."""
    assert parse_duration(f"{MAX_DURATION.days}d") == MAX_DURATION


def test_longer_than_the_maximum_is_refused() -> None:
    """One day more than the maximum is a typo, not a policy."""
    with pytest.raises(DurationError, match="longer than the maximum"):
        parse_duration(f"{MAX_DURATION.days + 1}d")


def test_huge_numbers_are_refused_not_overflowed() -> None:
    """The largest number the notation admits is refused cleanly."""
    with pytest.raises(DurationError, match="longer than the maximum"):
        parse_duration("999999999d")


def test_iso_is_refused_unless_allowed() -> None:
    """`PT30M` is not a policy duration by default, and the message does not suggest it."""
    with pytest.raises(DurationError) as info:
        parse_duration("PT30M")
    assert "ISO" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT30M", timedelta(minutes=30)),
        ("PT1H30M", timedelta(minutes=90)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H3M4S", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("PT45S", timedelta(seconds=45)),
    ],
)
def test_iso_when_allowed(text: str, expected: timedelta) -> None:
    """ISO 8601 day-time durations parse when asked for."""
    assert parse_duration(text, allow_iso=True) == expected


def test_short_notation_still_works_when_iso_is_allowed() -> None:
    """`allow_iso` adds a notation; it does not replace the short one."""
    assert parse_duration("2h", allow_iso=True) == timedelta(hours=2)


@pytest.mark.parametrize(
    "text", ["P", "PT", "P1DT", "PT0S", "P0D", "P1Y", "P1W", "pt30m", "PT1.5H"]
)
def test_malformed_iso_is_refused(text: str) -> None:
    """Empty, dangling-T, zero, year/week and lower-case or fractional forms are refused."""
    with pytest.raises(DurationError):
        parse_duration(text, allow_iso=True)


def test_iso_error_message_mentions_iso() -> None:
    """When ISO is allowed, the hint says so."""
    with pytest.raises(DurationError, match="ISO 8601"):
        parse_duration("soon", allow_iso=True)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=2), "2d"),
        (timedelta(hours=2), "2h"),
        (timedelta(minutes=90), "90m"),
        (timedelta(seconds=45), "45s"),
        (timedelta(seconds=3601), "3601s"),
        (timedelta(hours=48), "2d"),
    ],
)
def test_format_uses_the_largest_exact_unit(value: timedelta, text: str) -> None:
    """Rendering picks the largest unit that divides the value exactly."""
    assert format_duration(value) == text


@pytest.mark.parametrize("text", ["90s", "15m", "4h", "7d", "3601s", "25h"])
def test_format_round_trips_through_parse(text: str) -> None:
    """Formatting a parsed duration gives a string that parses to the same value."""
    value = parse_duration(text)
    assert parse_duration(format_duration(value)) == value
