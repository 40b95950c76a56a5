"""Grants as values: time-boxed access for one person to one application under one policy, from
an approval or from a recorded justification. A grant counts iff it is ACTIVE, `now <
expires_at`, and the policy that matches still has the fingerprint the grant was issued under."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from app.core.approvals.codec import Fields, RecordError, encode_optional_time, encode_time
from app.core.approvals.emergency_records import BreakGlassState, read_optional
from app.core.approvals.person import Person, Scope
from app.core.context import Identity


class GrantStatus(Enum):
    """ACTIVE until it runs out (EXPIRED) or someone ends it (REVOKED).

    A requester ending their own grant early is REVOKED with `revoked_by == user`; the audit
    event (`grant_ended` rather than `grant_revoked`) and `ended_early` tell the two apart.
    """

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class GrantKind(Enum):
    """Where a grant came from: an approved request, a justification-only policy, or a
    break-glass use."""

    APPROVAL = "approval"
    JUSTIFICATION = "justification"
    #: Self-granted in an emergency under a policy's `break_glass`, reviewed afterwards.
    BREAK_GLASS = "break-glass"


@dataclass(frozen=True, slots=True)
class Grant:
    """Access for one person to `application` from `starts_at` until `expires_at`.

    `issuer` and `subject` are the holder, `user` their display name; `policy_fingerprint` is
    the policy it satisfies. Older records lack them: they satisfy no policy and have no holder.
    """

    id: str
    request_id: str | None
    application: str
    policy: str
    user: str
    kind: GrantKind
    starts_at: datetime
    expires_at: datetime
    status: GrantStatus = GrantStatus.ACTIVE
    justification: str | None = None
    revoked_by: str | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    version: int = 1
    issuer: str | None = None
    subject: str | None = None
    policy_fingerprint: str | None = None
    #: Set on a BREAK_GLASS grant: its after-the-fact review (core.approvals.break_glass).
    break_glass: BreakGlassState | None = None

    @property
    def holder(self) -> Person | None:
        """Whose access this is; None for a record written before people were recorded."""
        return Person.maybe(self.issuer, self.subject)

    @property
    def scope(self) -> Scope | None:
        """The policy this grant satisfies; None (none at all) for an older record."""
        if self.policy_fingerprint is None:
            return None
        return Scope(self.application, self.policy_fingerprint)

    def held_by(self, identity: Identity) -> bool:
        """Whether `identity` is the holder: the same (issuer, subject)."""
        holder = self.holder
        return holder is not None and holder == Person.of(identity)

    def is_active(self, now: datetime) -> bool:
        """Whether this grant is live at `now`: ACTIVE and not over (a planned window that has
        not begun is live, so it can be revoked and is not asked for twice; see `upcoming`)."""
        return self.status is GrantStatus.ACTIVE and now < self.expires_at

    def upcoming(self, now: datetime) -> bool:
        """Whether this is a live planned window that does not let the user in yet."""
        return self.is_active(now) and now < self.starts_at

    @property
    def ended_early(self) -> bool:
        """Whether the holder ended it themselves."""
        return self.status is GrantStatus.REVOKED and self.revoked_by == self.user

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: UTC timestamps with `Z`."""
        return {
            "id": self.id,
            "request_id": self.request_id,
            "application": self.application,
            "policy": self.policy,
            "user": self.user,
            "kind": self.kind.value,
            "starts_at": encode_time(self.starts_at),
            "expires_at": encode_time(self.expires_at),
            "status": self.status.value,
            "justification": self.justification,
            "revoked_by": self.revoked_by,
            "revoked_at": encode_optional_time(self.revoked_at),
            "revoke_reason": self.revoke_reason,
            "version": self.version,
            "issuer": self.issuer,
            "subject": self.subject,
            "policy_fingerprint": self.policy_fingerprint,
            "break_glass": self.break_glass.to_dict() if self.break_glass is not None else None,
        }

    @classmethod
    def from_dict(cls, raw: object) -> Grant:
        """Decode `to_dict` output; raise RecordError naming the field of malformed input.

        Unknown keys are ignored so a replica of an older release can read newer records.
        """
        fields = Fields(raw)
        grant = cls(
            id=fields.text("id"),
            request_id=fields.optional_text("request_id"),
            application=fields.text("application"),
            policy=fields.text("policy"),
            user=fields.text("user"),
            kind=fields.choice("kind", GrantKind),
            starts_at=fields.time("starts_at"),
            expires_at=fields.time("expires_at"),
            status=fields.choice("status", GrantStatus),
            justification=fields.optional_text("justification"),
            revoked_by=fields.optional_text("revoked_by"),
            revoked_at=fields.optional_time("revoked_at"),
            revoke_reason=fields.optional_text("revoke_reason"),
            version=fields.integer("version", minimum=1),
            issuer=fields.maybe_text("issuer"),
            subject=fields.maybe_text("subject"),
            policy_fingerprint=fields.maybe_text("policy_fingerprint"),
            break_glass=_break_glass(fields),
        )
        if (grant.kind is GrantKind.BREAK_GLASS) != (grant.break_glass is not None):
            raise RecordError("$.break_glass: set exactly for a break-glass grant")
        if grant.expires_at <= grant.starts_at:
            raise RecordError("$.expires_at: must be after starts_at")
        revoked = grant.status is GrantStatus.REVOKED
        if revoked != (grant.revoked_at is not None and grant.revoked_by is not None):
            raise RecordError("$.revoked_at: set, with revoked_by, exactly when revoked")
        if (grant.kind is GrantKind.APPROVAL) != (grant.request_id is not None):
            raise RecordError("$.request_id: set exactly for a grant from an approval")
        return grant


def _break_glass(fields: Fields) -> BreakGlassState | None:
    nested = read_optional(fields, "break_glass")
    return BreakGlassState.read(nested) if nested is not None else None
