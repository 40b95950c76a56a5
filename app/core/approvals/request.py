"""Access requests as values: who asked, for what and why, every review, and where it stands.

A request is never edited in place; transitions build the next value with `version + 1`, and the
store saves it with a compare-and-set on `version`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from app.core.approvals.codec import (
    Fields,
    RecordError,
    encode_optional_time,
    encode_seconds,
    encode_time,
)
from app.core.approvals.emergency_records import EscalationState, read_optional
from app.core.approvals.person import Person, Scope, same_email
from app.core.context import UNKNOWN_DEVICE, AccessContext, Device, Identity

#: The User-Agent header is a snapshot for people to read, not a place to store megabytes.
MAX_USER_AGENT = 512


class RequestStatus(Enum):
    """Where a request stands. Every status but PENDING is terminal."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """True once nothing can change the request any more."""
        return self is not RequestStatus.PENDING


class ReviewDecision(Enum):
    """What a reviewer said."""

    APPROVE = "approve"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asked, and the signals recorded when they asked.

    `issuer` and `subject` are the person; `user` (e-mail or subject) is how people and logs
    name them. Records written before people were recorded have neither: such a request
    belongs to nobody (no one may cancel it as its requester or see it as theirs).
    """

    user: str
    email: str | None
    groups: frozenset[str]
    client_ip: str | None = None
    country: str | None = None
    device: Device = UNKNOWN_DEVICE
    user_agent: str = ""
    issuer: str | None = None
    subject: str | None = None

    @classmethod
    def from_context(cls, context: AccessContext) -> Requester:
        """Snapshot the signed-in user and the signals of the attempt that led to the request."""
        if context.identity is None:
            raise ValueError("only a signed-in user can ask for access")
        identity = context.identity
        return cls(
            user=identity.user,
            email=identity.email,
            groups=identity.groups,
            client_ip=str(context.client_ip) if context.client_ip is not None else None,
            country=context.country,
            device=context.device,
            user_agent=context.user_agent[:MAX_USER_AGENT],
            issuer=identity.issuer,
            subject=identity.subject,
        )

    @property
    def person(self) -> Person | None:
        """The person who asked; None for a record written before people were recorded."""
        return Person.maybe(self.issuer, self.subject)

    def is_requester(self, identity: Identity) -> bool:
        """Whether `identity` is the person who asked, for what only they may do (see it as
        theirs, cancel it): the same (issuer, subject), never just the same e-mail."""
        person = self.person
        return person is not None and person == Person.of(identity)

    def same_person(self, identity: Identity) -> bool:
        """Whether `identity` may be the person who asked, for what they must not do (review):
        the same (issuer, subject), or the same e-mail in any case, or (old records) the same
        user name. Deliberately wide: one person with two tokens is still one person."""
        if self.is_requester(identity) or same_email(identity.email, self.email):
            return True
        return self.person is None and identity.user == self.user

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; groups and device tags sorted so equal values encode equally."""
        return {
            "user": self.user,
            "issuer": self.issuer,
            "subject": self.subject,
            "email": self.email,
            "groups": sorted(self.groups),
            "client_ip": self.client_ip,
            "country": self.country,
            "device": {
                "managed": self.device.managed,
                "tags": sorted(self.device.tags),
                "id": self.device.device_id,
            },
            "user_agent": self.user_agent,
        }

    @classmethod
    def read(cls, fields: Fields) -> Requester:
        """Decode from checked fields (see AccessRequest.from_dict)."""
        device = fields.nested("device")
        return cls(
            user=fields.text("user"),
            email=fields.optional_text("email"),
            groups=frozenset(fields.texts("groups")),
            client_ip=fields.optional_text("client_ip"),
            country=fields.optional_text("country"),
            device=Device(
                managed=device.boolean("managed"),
                tags=frozenset(device.texts("tags")),
                device_id=device.optional_text("id"),
            ),
            user_agent=fields.optional_text("user_agent") or "",
            issuer=fields.maybe_text("issuer"),
            subject=fields.maybe_text("subject"),
        )


@dataclass(frozen=True, slots=True)
class Review:
    """One reviewer's decision, with a snapshot of who they were when they made it.

    `via_token` is the service token a review came through; `reviewer` is then the person the
    token acts for, so both are on record.
    """

    reviewer: str
    email: str | None
    groups: frozenset[str]
    decision: ReviewDecision
    at: datetime
    comment: str | None = None
    duration: timedelta | None = None
    via_token: str | None = None
    issuer: str | None = None
    subject: str | None = None

    @property
    def person(self) -> Person | None:
        """The reviewer; None for a review written before people were recorded."""
        return Person.maybe(self.issuer, self.subject)

    def by(self, identity: Identity) -> bool:
        """Whether `identity` may be the reviewer: the same person, the same e-mail in any case,
        or (old records) the same user name."""
        person = self.person
        if person is not None and person == Person.of(identity):
            return True
        if same_email(identity.email, self.email):
            return True
        return person is None and identity.user == self.reviewer

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "reviewer": self.reviewer,
            "issuer": self.issuer,
            "subject": self.subject,
            "email": self.email,
            "groups": sorted(self.groups),
            "decision": self.decision.value,
            "at": encode_time(self.at),
            "comment": self.comment,
            "duration": encode_seconds(self.duration),
            "via_token": self.via_token,
        }

    @classmethod
    def read(cls, fields: Fields) -> Review:
        """Decode from checked fields."""
        return cls(
            reviewer=fields.text("reviewer"),
            email=fields.optional_text("email"),
            groups=frozenset(fields.texts("groups")),
            decision=fields.choice("decision", ReviewDecision),
            at=fields.time("at"),
            comment=fields.optional_text("comment"),
            duration=fields.optional_seconds("duration"),
            via_token=fields.optional_text("via_token"),
            issuer=fields.maybe_text("issuer"),
            subject=fields.maybe_text("subject"),
        )


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """A request for a second opinion for one person on one application under one policy.

    `policy_fingerprint` is the fingerprint of that policy when the request was made: only a
    policy with the same fingerprint may review it (None, in older records, matches none).
    `starts_at` is a planned window's start (None: from the approval on); `extends` names the
    grant an extension request would lengthen (core.approvals.windows, extending).
    """

    id: str
    application: str
    policy: str
    requester: Requester
    justification: str | None
    prompt: str | None
    requested_duration: timedelta | None
    status: RequestStatus
    created_at: datetime
    expires_at: datetime
    reviews: tuple[Review, ...] = ()
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution_comment: str | None = None
    grant_id: str | None = None
    version: int = 1
    policy_fingerprint: str | None = None
    starts_at: datetime | None = None
    extends: str | None = None
    #: Set under a policy with `escalate_after` (core.approvals.escalation).
    escalation: EscalationState | None = None

    @property
    def user(self) -> str:
        """The requester's display name (e-mail, else subject), for logs and pages."""
        return self.requester.user

    @property
    def scope(self) -> Scope | None:
        """What the request is for; None for a record without a policy fingerprint."""
        if self.policy_fingerprint is None:
            return None
        return Scope(self.application, self.policy_fingerprint)

    def reviewed_by(self, identity: Identity) -> Review | None:
        """The first review `identity` (or another token of the same person) gave, if any."""
        return next((r for r in self.reviews if r.by(identity)), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: UTC timestamps with `Z`, durations as integer seconds."""
        return {
            "id": self.id,
            "application": self.application,
            "policy": self.policy,
            "requester": self.requester.to_dict(),
            "justification": self.justification,
            "prompt": self.prompt,
            "requested_duration": encode_seconds(self.requested_duration),
            "status": self.status.value,
            "created_at": encode_time(self.created_at),
            "expires_at": encode_time(self.expires_at),
            "reviews": [r.to_dict() for r in self.reviews],
            "resolved_at": encode_optional_time(self.resolved_at),
            "resolved_by": self.resolved_by,
            "resolution_comment": self.resolution_comment,
            "grant_id": self.grant_id,
            "version": self.version,
            "policy_fingerprint": self.policy_fingerprint,
            "starts_at": encode_optional_time(self.starts_at),
            "extends": self.extends,
            "escalation": self.escalation.to_dict() if self.escalation is not None else None,
        }

    @classmethod
    def from_dict(cls, raw: object) -> AccessRequest:
        """Decode `to_dict` output; raise RecordError naming the field of malformed input.

        Unknown keys are ignored so a replica of an older release can read newer records.
        """
        fields = Fields(raw)
        request = cls(
            id=fields.text("id"),
            application=fields.text("application"),
            policy=fields.text("policy"),
            requester=Requester.read(fields.nested("requester")),
            justification=fields.optional_text("justification"),
            prompt=fields.optional_text("prompt"),
            requested_duration=fields.optional_seconds("requested_duration"),
            status=fields.choice("status", RequestStatus),
            created_at=fields.time("created_at"),
            expires_at=fields.time("expires_at"),
            reviews=tuple(Review.read(r) for r in fields.items("reviews")),
            resolved_at=fields.optional_time("resolved_at"),
            resolved_by=fields.optional_text("resolved_by"),
            resolution_comment=fields.optional_text("resolution_comment"),
            grant_id=fields.optional_text("grant_id"),
            version=fields.integer("version", minimum=1),
            policy_fingerprint=fields.maybe_text("policy_fingerprint"),
            starts_at=fields.maybe_time("starts_at"),
            extends=fields.maybe_text("extends"),
            escalation=_escalation(fields),
        )
        if request.status.terminal != (request.resolved_at is not None):
            raise RecordError("$.resolved_at: set exactly when the request is resolved")
        if (request.status is RequestStatus.APPROVED) != (request.grant_id is not None):
            raise RecordError("$.grant_id: set exactly when the request is approved")
        return request


def _escalation(fields: Fields) -> EscalationState | None:
    nested = read_optional(fields, "escalation")
    return EscalationState.read(nested) if nested is not None else None
