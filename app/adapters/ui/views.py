"""How records read on a page: times, ages, durations, approvers, devices, duration choices.

Times are shown in UTC by the server; the page script rewrites them in the reader's own time
zone from the `datetime` attribute of each `<time>` element.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.core.context import Device
from app.core.durations import format_duration, in_words
from app.core.policy.model import Approval

#: Offered in the duration pickers, cut at the policy's max_duration.
STANDARD_DURATIONS = tuple(
    timedelta(seconds=s)
    for s in (900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 604800)
)
_SHORT_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of a duration picker."""

    value: str
    label: str
    selected: bool


def iso(moment: datetime) -> str:
    """Machine-readable UTC time for a `datetime` attribute."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clock(moment: datetime) -> str:
    """`14:05 UTC`, for "approved until 14:05"."""
    return moment.astimezone(UTC).strftime("%H:%M UTC")


def when(moment: datetime) -> str:
    """`2025-05-06 14:05 UTC`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def span(delta: timedelta) -> str:
    """A rough length for people: `45 s`, `12 min`, `2 h 5 min`, `3 d 4 h` (never negative)."""
    seconds = max(0, int(delta.total_seconds()))
    parts: list[str] = []
    for name, size in _SHORT_UNITS:
        if seconds >= size or (name == "s" and not parts):
            parts.append(f"{seconds // size} {name}")
            seconds %= size
        if len(parts) == 2:
            break
    if len(parts) == 2 and parts[1].startswith("0 "):
        parts.pop()
    return " ".join(parts)


def human_duration(value: timedelta) -> str:
    """A policy duration in words: `15 minutes`, `1 hour`, `90 seconds`, `8 hours`."""
    return in_words(value)


def duration_choices(
    approval: Approval, *, selected: timedelta | None, also: Iterable[timedelta | None] = ()
) -> list[Choice]:
    """Durations from the standard list up to max_duration, plus the policy's own and any in
    `also` that fit; `selected` (or the policy default) is preselected."""
    limit = approval.max_duration
    pick = selected if selected is not None and selected <= limit else approval.default_duration
    values = {d for d in STANDARD_DURATIONS if d <= limit}
    values |= {approval.default_duration, limit, pick}
    values |= {d for d in also if d is not None and timedelta(0) < d <= limit}
    return [Choice(format_duration(d), human_duration(d), d == pick) for d in sorted(values)]


def approver_lines(approval: Approval) -> list[str]:
    """Who may approve, one line per policy entry."""
    lines = []
    for approver in approval.approvers:
        if approver.kind == "group":
            line = f"members of the group {approver.value}"
            if approver.required:
                line += f" ({approver.required} of them must approve)"
        else:
            line = approver.value
        lines.append(line)
    return lines


def approvals_needed(approval: Approval) -> str:
    """`1 approval` / `2 approvals from different people`."""
    count = approval.approvals_required
    if count == 1:
        return "1 approval"
    return f"{count} approvals from different people"


def device_text(device: Device) -> str:
    """What the approver is told about the device."""
    if device.device_id is None and not device.managed and not device.tags:
        return "unknown or personal device"
    text = "managed device" if device.managed else "unmanaged device"
    if device.tags:
        text += " (" + ", ".join(sorted(device.tags)) + ")"
    if device.device_id:
        text += f", id {device.device_id}"
    return text
