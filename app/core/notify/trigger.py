"""What sets a notification off: an outbox event that someone should hear about, or the warning
that a pending request is about to expire.

A trigger is the part of an outbox entry that notifications read; `to_dict`/`from_dict` are the
JSON form of the warnings the notifier adds to the outbox itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.core.approvals.codec import Fields, encode_time
from app.core.approvals.events import Event, EventType
from app.core.approvals.request import AccessRequest, RequestStatus
from app.core.notify.topics import Topic

#: Audit events that notify someone; every other event type notifies nobody.
EVENT_TOPICS: dict[EventType, Topic] = {
    EventType.REQUEST_SUBMITTED: Topic.REQUEST_SUBMITTED,
    EventType.REQUEST_APPROVED: Topic.REQUEST_APPROVED,
    EventType.REQUEST_DENIED: Topic.REQUEST_DENIED,
    EventType.REQUEST_EXPIRED: Topic.REQUEST_EXPIRED,
    EventType.GRANT_REVOKED: Topic.GRANT_REVOKED,
    EventType.REQUEST_ESCALATED: Topic.REQUEST_ESCALATED,
    EventType.BREAK_GLASS_USED: Topic.BREAK_GLASS_USED,
    EventType.BREAK_GLASS_REVIEW_OVERDUE: Topic.BREAK_GLASS_REVIEW_OVERDUE,
    EventType.BREAK_GLASS_REVIEWED: Topic.BREAK_GLASS_REVIEWED,
}


@dataclass(frozen=True, slots=True)
class Trigger:
    """One thing to tell people about: which topic, when, whose request or grant, and by whom."""

    topic: Topic
    at: datetime
    application: str
    user: str
    actor: str | None = None
    request_id: str | None = None
    grant_id: str | None = None
    reason: str | None = None

    @classmethod
    def from_event(cls, event: Event) -> Trigger | None:
        """The trigger an audit event makes, or None when it notifies nobody."""
        topic = EVENT_TOPICS.get(event.type)
        if topic is None:
            return None
        reason = event.data.get("reason")
        return cls(
            topic=topic,
            at=event.at,
            application=event.application,
            user=event.user,
            actor=event.actor,
            request_id=event.request_id,
            grant_id=event.grant_id,
            reason=reason if isinstance(reason, str) else None,
        )

    @property
    def order_key(self) -> str:
        """What deliveries are ordered by: the request (or, for a grant alone, the grant)."""
        return self.request_id or self.grant_id or ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "topic": self.topic.value,
            "at": encode_time(self.at),
            "application": self.application,
            "user": self.user,
            "actor": self.actor,
            "request_id": self.request_id,
            "grant_id": self.grant_id,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, raw: object) -> Trigger:
        """Decode `to_dict` output; raise RecordError naming the field of malformed input."""
        fields = Fields(raw)
        return cls(
            topic=fields.choice("topic", Topic),
            at=fields.time("at"),
            application=fields.text("application"),
            user=fields.text("user"),
            actor=fields.optional_text("actor"),
            request_id=fields.optional_text("request_id"),
            grant_id=fields.optional_text("grant_id"),
            reason=fields.optional_text("reason"),
        )


def needs_expiry_warning(request: AccessRequest, *, now: datetime, warning: timedelta) -> bool:
    """Whether approvers should now hear that `request` is about to expire: it is PENDING, less
    than `warning` is left, and it was open for longer than `warning` (a request that was short
    from the start is announced once, on submit)."""
    if warning <= timedelta(0) or request.status is not RequestStatus.PENDING:
        return False
    warn_at = request.expires_at - warning
    return request.created_at < warn_at <= now < request.expires_at


def expiry_warning(request: AccessRequest, *, now: datetime) -> Trigger:
    """The trigger that tells approvers `request` expires soon."""
    return Trigger(
        topic=Topic.REQUEST_EXPIRING,
        at=now,
        application=request.application,
        user=request.user,
        request_id=request.id,
    )
