"""Events, one audit log entry each (snake_case types), and the transition results carrying them.

Most events are caused by an access request or grant changing state. The policy kinds (built
in core.audit_events) and `sessions_revoked` change no request or grant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from app.core.approvals.codec import Fields, RecordError, encode_time
from app.core.approvals.grant import Grant
from app.core.approvals.request import AccessRequest

#: Event data stays flat and JSON-ready: scalars, or a tuple of strings (device tags, approvers).
DataValue = str | int | bool | None | tuple[str, ...]
T = TypeVar("T")


class EventType(StrEnum):
    """Every kind of audit log entry: the approval workflow's, then the policy set's and the
    admins' (`application` and `user` are empty when no one application or person is meant)."""

    REQUEST_SUBMITTED = "request_submitted"
    REQUEST_REVIEWED = "request_reviewed"
    REQUEST_APPROVED = "request_approved"
    REQUEST_DENIED = "request_denied"
    REQUEST_EXPIRED = "request_expired"
    REQUEST_CANCELLED = "request_cancelled"
    GRANT_ISSUED = "grant_issued"
    GRANT_REVOKED = "grant_revoked"
    GRANT_ENDED = "grant_ended"
    GRANT_EXPIRED = "grant_expired"
    #: An approved extension request moved a live grant's end (`data`: from, to, request).
    GRANT_EXTENDED = "grant_extended"
    JUSTIFICATION_RECORDED = "justification_recorded"
    #: A pending request went unreviewed for `escalate_after`: the fallback approvers may review
    #: it and are told (`data`: escalate_to, after). Written once, by one replica's sweep.
    REQUEST_ESCALATED = "request_escalated"
    #: Someone granted themselves access under a policy's `break_glass` (`data`: justification,
    #: review_due_at, signals). Every channel hears it.
    BREAK_GLASS_USED = "break_glass_used"
    #: An approver judged a break-glass use (`data`: verdict, comment).
    BREAK_GLASS_REVIEWED = "break_glass_reviewed"
    #: A break-glass use passed `review_within` without a review. Written once.
    BREAK_GLASS_REVIEW_OVERDUE = "break_glass_review_overdue"
    #: A replica compiled its policy set at start: which set is in force from then on.
    POLICY_LOADED = "policy_loaded"
    #: A replica swapped in a changed policy set (what changed, what triggered it).
    POLICY_RELOADED = "policy_reloaded"
    #: A replica refused a changed policy set and kept the one in force (the error codes).
    POLICY_RELOAD_REJECTED = "policy_reload_rejected"
    #: An admin ended every session of a person (`user`; `data` names issuer and subject).
    SESSIONS_REVOKED = "sessions_revoked"


#: Kinds about no one application (or person): their `application` and `user` may be empty.
UNSCOPED = frozenset(
    {
        EventType.POLICY_LOADED,
        EventType.POLICY_RELOADED,
        EventType.POLICY_RELOAD_REJECTED,
        EventType.SESSIONS_REVOKED,
    }
)


def _no_data() -> Mapping[str, DataValue]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened to a request or grant.

    `user` is whose access it concerns; `actor` who caused it (None when time did).
    """

    type: EventType
    at: datetime
    application: str
    user: str
    actor: str | None = None
    request_id: str | None = None
    grant_id: str | None = None
    data: Mapping[str, DataValue] = field(default_factory=_no_data)

    def __post_init__(self) -> None:
        # Freeze a copy so the caller's dict cannot change a recorded event.
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, the body of one audit entry."""
        return {
            "type": self.type.value,
            "at": encode_time(self.at),
            "application": self.application,
            "user": self.user,
            "actor": self.actor,
            "request_id": self.request_id,
            "grant_id": self.grant_id,
            "data": {k: list(v) if isinstance(v, tuple) else v for k, v in self.data.items()},
        }

    @classmethod
    def from_dict(cls, raw: object) -> Event:
        """Decode `to_dict` output; raise RecordError naming the field of malformed input."""
        fields = Fields(raw)
        kind = fields.choice("type", EventType)
        text = _text_or_empty if kind in UNSCOPED else Fields.text
        return cls(
            type=kind,
            at=fields.time("at"),
            application=text(fields, "application"),
            user=text(fields, "user"),
            actor=fields.optional_text("actor"),
            request_id=fields.optional_text("request_id"),
            grant_id=fields.optional_text("grant_id"),
            data=_read_data(fields.raw("data")),
        )


def _text_or_empty(fields: Fields, key: str) -> str:
    value = fields.raw(key)
    if not isinstance(value, str):
        raise RecordError(f"$.{key}: expected a string")
    return value


def _read_data(raw: object) -> dict[str, DataValue]:
    if not isinstance(raw, Mapping):
        raise RecordError("$.data: expected an object")
    data: dict[str, DataValue] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise RecordError("$.data: keys must be strings")
        if value is None or isinstance(value, str | int | bool):
            data[key] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            data[key] = tuple(value)
        else:
            raise RecordError(f"$.data.{key}: expected a string, number, boolean, null or list")
    return data


@dataclass(frozen=True, slots=True)
class RequestTransition:
    """The request after a transition, the grant it issued (if any), and the events it caused.

    No events means nothing changed (an idempotent repeat): the store has nothing to write.
    """

    request: AccessRequest
    events: tuple[Event, ...]
    grant: Grant | None = None

    @property
    def changed(self) -> bool:
        """Whether there is anything to save."""
        return bool(self.events)


@dataclass(frozen=True, slots=True)
class GrantTransition:
    """The grant after a transition and the events it caused (none: nothing changed)."""

    grant: Grant
    events: tuple[Event, ...]

    @property
    def changed(self) -> bool:
        """Whether there is anything to save."""
        return bool(self.events)


def through_token(transition: T, token: str | None) -> T:
    """`transition` with `via_token` in the data of each of its events: the service token that
    carried the call (None: none did, and it comes back as it is)."""
    if token is None or not isinstance(transition, RequestTransition | GrantTransition):
        return transition
    events = tuple(
        replace(event, data={**event.data, "via_token": token}) for event in transition.events
    )
    return replace(transition, events=events)
