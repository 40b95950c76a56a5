"""The words of a notification, shared by every channel: a one-line headline and labelled facts.

Values are returned as they are; each renderer escapes them for its own format (Slack mrkdwn,
HTML). The headline is forced onto one line, since it becomes an e-mail subject.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.core.durations import format_duration
from app.core.notify.notice import Notice
from app.core.notify.topics import AUDIENCES, Audience, Topic

_HEADLINES = {
    Topic.REQUEST_SUBMITTED: "{user} asks for access to {app}",
    Topic.REQUEST_EXPIRING: "{user}'s request for {app} expires soon",
    Topic.REQUEST_APPROVED: "{user}'s request for {app} was approved",
    Topic.REQUEST_DENIED: "{user}'s request for {app} was denied",
    Topic.REQUEST_EXPIRED: "{user}'s request for {app} expired without a decision",
    Topic.GRANT_REVOKED: "{user}'s access to {app} was revoked",
    Topic.REQUEST_ESCALATED: "{user}'s request for {app} has had no review and is escalated",
    Topic.BREAK_GLASS_USED: "BREAK-GLASS: {user} granted themselves access to {app}",
    Topic.BREAK_GLASS_REVIEW_OVERDUE: "{user}'s break-glass access to {app} is overdue for review",
    Topic.BREAK_GLASS_REVIEWED: "{user}'s break-glass access to {app} was reviewed",
    Topic.TEST: "Test message from Countersign",
}
_DECIDER = {
    Topic.REQUEST_APPROVED: "Approved by",
    Topic.REQUEST_DENIED: "Denied by",
    Topic.GRANT_REVOKED: "Revoked by",
    Topic.BREAK_GLASS_REVIEWED: "Reviewed by",
}
#: An extension request's headlines: more time on access the person already has.
_EXTENSION_HEADLINES = {
    Topic.REQUEST_SUBMITTED: "{user} asks for more time on {app}",
    Topic.REQUEST_EXPIRING: "{user}'s request for more time on {app} expires soon",
    Topic.REQUEST_APPROVED: "{user}'s access to {app} was extended",
    Topic.REQUEST_DENIED: "{user}'s request for more time on {app} was denied",
    Topic.REQUEST_EXPIRED: "{user}'s request for more time on {app} lapsed without a decision",
}
#: Longest user-supplied text shown; the record keeps all of it.
MAX_TEXT = 1500


def one_line(text: str) -> str:
    """`text` with control characters and runs of white space turned into single spaces."""
    cleaned = "".join(" " if ord(c) < 32 or 127 <= ord(c) < 160 else c for c in text)
    return " ".join(cleaned.split())


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """At most `limit` characters, marked when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def when(moment: datetime) -> str:
    """A moment as people read it: `2024-05-06 10:00 UTC`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def headline(notice: Notice) -> str:
    """One line saying what happened."""
    wording = _HEADLINES[notice.topic]
    if notice.extends is not None:
        wording = _EXTENSION_HEADLINES.get(notice.topic, wording)
    text = wording.format(user=notice.user, app=notice.application_name)
    return clip(one_line(text), 200)


def for_approvers(notice: Notice) -> bool:
    """Whether the notice asks for a decision (its link leads to the approve/deny forms)."""
    return AUDIENCES[notice.topic] is Audience.APPROVERS


def action_label(notice: Notice) -> str:
    """The text of the link to the request page."""
    return "Review the request" if for_approvers(notice) else "View the request"


def facts(notice: Notice) -> list[tuple[str, str]]:
    """(label, value) pairs, in reading order; the justification is separate (multi-line)."""
    rows: list[tuple[str, str]] = []
    requester = notice.user
    if notice.requester_email and notice.requester_email != notice.user:
        requester += f" ({notice.requester_email})"
    rows.append(("Requester", requester))
    application = notice.application_name
    if application != notice.application:
        application += f" ({notice.application})"
    rows.append(("Application", application))
    if notice.client_ip:
        rows.append(("Client IP", notice.client_ip))
    if notice.country:
        rows.append(("Country", notice.country))
    device = _device(notice)
    if device:
        rows.append(("Device", device))
    if notice.extends is not None:
        rows.append(("Extends grant", notice.extends))
    if notice.starts_at is not None:
        rows.append(("Access from", when(notice.starts_at)))
    if notice.requested_duration is not None:
        label = "Requested extra time" if notice.extends else "Requested duration"
        rows.append((label, format_duration(notice.requested_duration)))
    if notice.expires_at is not None and for_approvers(notice):
        rows.append(("Request expires", when(notice.expires_at)))
    if notice.decided_by and notice.topic in _DECIDER:
        rows.append((_DECIDER[notice.topic], notice.decided_by))
    if notice.grant_expires_at is not None and notice.topic is Topic.REQUEST_APPROVED:
        rows.append(("Access until", when(notice.grant_expires_at)))
    if notice.comment:
        rows.append(("Comment", notice.comment))
    return [(label, clip(one_line(value))) for label, value in rows]


def _device(notice: Notice) -> str:
    if notice.device_managed is None and not notice.device_id and not notice.device_tags:
        return ""
    parts = ["managed" if notice.device_managed else "unmanaged"]
    if notice.device_id:
        parts.append(f"id {notice.device_id}")
    if notice.device_tags:
        parts.append("tags " + ", ".join(notice.device_tags))
    return ", ".join(parts)
