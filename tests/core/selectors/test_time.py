"""The `time` selector: days of the week and an hour window in an IANA time zone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from app.core.reasons import Reason
from app.core.selectors import SelectorError
from app.core.selectors.time import compile_time
from tests.core.personas import ALICE, request

CTX = request(ALICE)
MONDAY_10 = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)  # 2024-05-06 is a Monday


def at(day: int, hour: int, minute: int = 0, *, month: int = 5) -> datetime:
    """A UTC instant in May 2024 (6 = Monday ... 12 = Sunday)."""
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


def test_time_days_match_the_listed_day() -> None:
    """`days: [mon, tue]` matches a Monday."""
    assert compile_time({"days": ["mon", "tue"]}).test(CTX, MONDAY_10)


def test_time_days_refuse_other_days() -> None:
    """`days: [tue, wed]` does not match a Monday."""
    assert not compile_time({"days": ["tue", "wed"]}).test(CTX, MONDAY_10)


def test_time_long_and_mixed_case_day_names() -> None:
    """`Monday` and `MON` both name Monday."""
    assert compile_time({"days": "Monday"}).test(CTX, MONDAY_10)
    assert compile_time({"days": ["MON"]}).test(CTX, MONDAY_10)


def test_time_hours_window_inside() -> None:
    """10:00 is inside 09:00-18:00."""
    assert compile_time({"hours": "09:00-18:00"}).test(CTX, at(6, 10))


def test_time_hours_start_is_inclusive_and_end_exclusive() -> None:
    """09:00 is in 09:00-18:00; 18:00 is not; 17:59 is."""
    rule = compile_time({"hours": "09:00-18:00"})
    assert rule.test(CTX, at(6, 9, 0))
    assert rule.test(CTX, at(6, 17, 59))
    assert not rule.test(CTX, at(6, 18, 0))


def test_time_hours_before_window() -> None:
    """08:59 is outside 09:00-18:00."""
    assert not compile_time({"hours": "09:00-18:00"}).test(CTX, at(6, 8, 59))


def test_time_whole_day_window() -> None:
    """00:00-24:00 covers the last minute of the day."""
    assert compile_time({"hours": "00:00-24:00"}).test(CTX, at(6, 23, 59))


def test_time_days_and_hours_both_apply() -> None:
    """Weekdays 09:00-18:00 refuses Saturday at 10:00."""
    rule = compile_time({"days": ["mon", "tue", "wed", "thu", "fri"], "hours": "09:00-18:00"})
    assert rule.test(CTX, at(6, 10))
    assert not rule.test(CTX, at(11, 10))


def test_time_window_wraps_midnight_on_the_start_day() -> None:
    """Friday 22:00-06:00 covers Friday 23:00."""
    assert compile_time({"days": "fri", "hours": "22:00-06:00"}).test(CTX, at(10, 23))


def test_time_window_wrap_covers_the_next_morning() -> None:
    """Friday 22:00-06:00 covers Saturday 05:59, because the window started on Friday."""
    assert compile_time({"days": "fri", "hours": "22:00-06:00"}).test(CTX, at(11, 5, 59))


def test_time_window_wrap_ends_at_its_end() -> None:
    """Friday 22:00-06:00 does not cover Saturday 06:00."""
    assert not compile_time({"days": "fri", "hours": "22:00-06:00"}).test(CTX, at(11, 6, 0))


def test_time_window_wrap_morning_needs_the_previous_day() -> None:
    """Friday 22:00-06:00 does not cover Friday 05:00 (that window opened on Thursday)."""
    assert not compile_time({"days": "fri", "hours": "22:00-06:00"}).test(CTX, at(10, 5))


def test_time_window_wrap_does_not_start_on_unlisted_day() -> None:
    """Friday 22:00-06:00 does not cover Saturday 23:00."""
    assert not compile_time({"days": "fri", "hours": "22:00-06:00"}).test(CTX, at(11, 23))


def test_time_zone_shifts_the_window() -> None:
    """09:00-17:00 Asia/Tokyo (UTC+9) covers 01:00 UTC and not 10:00 UTC."""
    rule = compile_time({"hours": "09:00-17:00", "timezone": "Asia/Tokyo"})
    assert rule.test(CTX, at(6, 1))
    assert not rule.test(CTX, at(6, 10))


def test_time_zone_shifts_the_day() -> None:
    """Monday 23:30 UTC is Tuesday in Tokyo, so `days: tue` in Asia/Tokyo matches."""
    rule = compile_time({"days": "tue", "timezone": "Asia/Tokyo"})
    assert rule.test(CTX, at(6, 23, 30))
    assert not compile_time({"days": "tue"}).test(CTX, at(6, 23, 30))


def test_time_zone_follows_daylight_saving_in_spring() -> None:
    """07:30 UTC is 08:30 in Paris before 31 March 2024 and 09:30 after; 09:00-17:00 follows."""
    rule = compile_time({"hours": "09:00-17:00", "timezone": "Europe/Paris"})
    assert not rule.test(CTX, datetime(2024, 3, 30, 7, 30, tzinfo=UTC))
    assert rule.test(CTX, datetime(2024, 3, 31, 7, 30, tzinfo=UTC))


def test_time_zone_repeated_hour_in_autumn_matches_both_times() -> None:
    """01:30 happens twice in New York on 3 November 2024; 01:00-02:00 covers both."""
    rule = compile_time({"hours": "01:00-02:00", "timezone": "America/New_York"})
    assert rule.test(CTX, datetime(2024, 11, 3, 5, 30, tzinfo=UTC))  # 01:30 EDT
    assert rule.test(CTX, datetime(2024, 11, 3, 6, 30, tzinfo=UTC))  # 01:30 EST
    assert not rule.test(CTX, datetime(2024, 11, 3, 7, 30, tzinfo=UTC))  # 02:30 EST


def test_time_default_zone_is_utc() -> None:
    """Without `timezone` the window is read in UTC."""
    assert compile_time({"hours": "10:00-11:00"}).test(CTX, at(6, 10, 30))


@pytest.fixture
def tokyo_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pretend the host's local time zone is Asia/Tokyo for the duration of a test."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("tokyo_machine")
def test_time_naive_now_is_utc_whatever_the_machine_zone() -> None:
    """A naive `now` is read as UTC, never as the machine's local time (the core reads no env)."""
    rule = compile_time({"hours": "10:00-11:00"})
    assert rule.test(CTX, datetime(2024, 5, 6, 10, 30))  # noqa: DTZ001  (naive on purpose)


def test_time_reasons() -> None:
    """The rule reports `time-ok` / `time-not-allowed`."""
    rule = compile_time({"days": "mon"})
    assert (rule.ok, rule.fail) == (Reason.TIME_OK, Reason.TIME_NOT_ALLOWED)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/Pariss", "../../etc/passwd", "", 5])
def test_time_bad_zone_is_refused(zone: object) -> None:
    """Anything but an IANA zone name is an error at `.timezone`."""
    with pytest.raises(SelectorError) as info:
        compile_time({"hours": "09:00-17:00", "timezone": zone})
    assert (info.value.code, info.value.at) == ("policy.bad_timezone", ".timezone")


@pytest.mark.parametrize("hours", ["9-17", "09:00-25:00", "24:00-01:00", "09:00-09:00", 9])
def test_time_bad_hours_are_refused(hours: object) -> None:
    """Malformed or empty windows are errors at `.hours`."""
    with pytest.raises(SelectorError) as info:
        compile_time({"hours": hours})
    assert (info.value.code, info.value.at) == ("policy.bad_time", ".hours")


def test_time_bad_day_in_list_is_located() -> None:
    """`funday` is reported at `.days[1]`."""
    with pytest.raises(SelectorError) as info:
        compile_time({"days": ["mon", "funday"]})
    assert (info.value.code, info.value.at) == ("policy.bad_time", ".days[1]")


def test_time_bad_single_day_is_located() -> None:
    """`days: mo` is reported at `.days`."""
    with pytest.raises(SelectorError) as info:
        compile_time({"days": "mo"})
    assert (info.value.code, info.value.at) == ("policy.bad_time", ".days")


def test_time_empty_days_is_located_under_days() -> None:
    """`days: []` is reported at `.days`, not at the selector."""
    with pytest.raises(SelectorError) as info:
        compile_time({"days": []})
    assert (info.value.code, info.value.at) == ("policy.wrong_type", ".days")


def test_time_non_string_day_is_located_under_days() -> None:
    """`days: [mon, 3]` is reported at `.days[1]`."""
    with pytest.raises(SelectorError) as info:
        compile_time({"days": ["mon", 3]})
    assert (info.value.code, info.value.at) == ("policy.wrong_type", ".days[1]")


def test_time_needs_days_or_hours() -> None:
    """A zone alone says nothing about when."""
    with pytest.raises(SelectorError) as info:
        compile_time({"timezone": "UTC"})
    assert info.value.code == "policy.missing_key"


def test_time_unknown_key_is_located() -> None:
    """`zone` is not a key of time (it is `timezone`)."""
    with pytest.raises(SelectorError) as info:
        compile_time({"hours": "09:00-17:00", "zone": "UTC"})
    assert (info.value.code, info.value.at) == ("policy.unknown_key", ".zone")


@pytest.mark.parametrize("value", [{}, "09:00-17:00", ["mon"]])
def test_time_needs_a_non_empty_mapping(value: object) -> None:
    """The value is a mapping."""
    with pytest.raises(SelectorError) as info:
        compile_time(value)
    assert info.value.code == "policy.wrong_type"
