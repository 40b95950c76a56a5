"""`time: {days: [mon, fri], hours: "09:00-18:00", timezone: Europe/Paris}` — when `now` falls."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.core.context import AccessContext
from app.core.policy.codes import PolicyErrorCode
from app.core.reasons import Reason
from app.core.selectors.base import (
    Rule,
    SelectorError,
    SelectorKind,
    register,
    render,
    string_list,
)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")


def _parse_hours(value: object) -> tuple[int, int]:
    if not isinstance(value, str) or not (m := _HOURS.match(value.replace(" ", ""))):
        raise SelectorError(
            PolicyErrorCode.POLICY_BAD_TIME,
            "hours must look like '09:00-18:00' (24-hour clock)",
            at=".hours",
        )
    start = int(m.group(1)) * 60 + int(m.group(2))
    end = int(m.group(3)) * 60 + int(m.group(4))
    if end > 24 * 60 or start == end:
        raise SelectorError(
            PolicyErrorCode.POLICY_BAD_TIME, "hours must span a non-empty window", at=".hours"
        )
    return start, end


def compile_time(value: object) -> Rule:
    """A window that ends before it starts wraps midnight (`22:00-06:00`); the day is the day
    on which the window started, so Friday 22:00-06:00 covers Saturday morning."""
    if not isinstance(value, dict) or not value:
        raise SelectorError(
            PolicyErrorCode.POLICY_WRONG_TYPE, "expected a mapping with days, hours, timezone"
        )
    for key in value:
        if key not in ("days", "hours", "timezone"):
            raise SelectorError(
                PolicyErrorCode.POLICY_UNKNOWN_KEY,
                f"unknown key '{key}' in time; use days, hours or timezone",
                at=f".{key}",
            )
    if "days" not in value and "hours" not in value:
        raise SelectorError(
            PolicyErrorCode.POLICY_MISSING_KEY, "time needs 'days', 'hours' or both"
        )
    days = frozenset(range(7))
    if "days" in value:
        try:
            names = string_list(value["days"], what="a day (mon..sun)", lower=True)
        except SelectorError as exc:
            raise SelectorError(exc.code, exc.message, at=".days" + exc.at) from None
        for i, name in enumerate(names):
            if name[:3] not in DAYS or name not in (name[:3], _long(name[:3])):
                raise SelectorError(
                    PolicyErrorCode.POLICY_BAD_TIME,
                    f"'{name}' is not a day; use mon, tue, ... sun",
                    at=f".days[{i}]" if isinstance(value["days"], list) else ".days",
                )
        days = frozenset(DAYS.index(n[:3]) for n in names)
    window = _parse_hours(value["hours"]) if "hours" in value else (0, 24 * 60)
    zone_name = value.get("timezone", "UTC")
    try:
        if not isinstance(zone_name, str) or not zone_name or ".." in zone_name:
            raise ZoneInfoNotFoundError(zone_name)
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SelectorError(
            PolicyErrorCode.POLICY_BAD_TIMEZONE,
            f"'{zone_name}' is not an IANA time zone",
            at=".timezone",
        ) from None
    start, end = window

    def test(_ctx: AccessContext, now: datetime) -> bool:
        # a naive `now` is UTC: astimezone() would read it as the machine's local time
        local = (now if now.tzinfo is not None else now.replace(tzinfo=UTC)).astimezone(zone)
        minute = local.hour * 60 + local.minute
        weekday = local.weekday()
        if start < end:
            return weekday in days and start <= minute < end
        if minute >= start:
            return weekday in days
        return minute < end and (weekday - 1) % 7 in days

    return Rule("time", render("time", value), test, Reason.TIME_OK, Reason.TIME_NOT_ALLOWED)


def _long(short: str) -> str:
    return {
        "mon": "monday",
        "tue": "tuesday",
        "wed": "wednesday",
        "thu": "thursday",
        "fri": "friday",
        "sat": "saturday",
        "sun": "sunday",
    }[short]


KIND = register(
    SelectorKind(
        name="time",
        schema={
            "type": "object",
            "description": "Days of the week and/or an hour window, in an IANA time zone.",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "days": {
                    "oneOf": [
                        {"type": "string"},
                        {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    ]
                },
                "hours": {"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$"},
                "timezone": {"type": "string", "default": "UTC"},
            },
        },
        compile=compile_time,
        summary="the request falls in this weekly time window",
    )
)
