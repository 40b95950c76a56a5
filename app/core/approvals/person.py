"""Who someone is, and what a grant is for.

A person is `(issuer, subject)`: the e-mail is a display and policy attribute, compared only as
a second guard (two tokens with one e-mail are never two people), never the identity key. A
grant is for one policy of one application as it stood when the grant was issued: its scope.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.context import Identity
from app.core.policy.model import Policy


@dataclass(frozen=True, slots=True)
class Person:
    """One person: the issuer that vouches for them and the subject it gives them."""

    issuer: str
    subject: str

    @classmethod
    def of(cls, identity: Identity) -> Person:
        """The person behind a verified identity."""
        return cls(identity.issuer, identity.subject)

    @classmethod
    def maybe(cls, issuer: str | None, subject: str | None) -> Person | None:
        """The person a record names, or None for a record written before people were
        recorded (which then belongs to nobody: fail closed)."""
        if issuer is None or subject is None:
            return None
        return cls(issuer, subject)


@dataclass(frozen=True, slots=True)
class Scope:
    """What a grant, justified session or open request is for: one application's policy,
    identified by its fingerprint (app.core.policy.fingerprint)."""

    application: str
    policy: str

    @classmethod
    def of(cls, application: str, policy: Policy) -> Scope:
        """The scope of asking under `policy` of `application`."""
        return cls(application, policy.fingerprint)


def same_email(a: str | None, b: str | None) -> bool:
    """Whether two e-mail addresses are the same, ignoring case; a missing one matches nothing."""
    return bool(a and b) and str(a).casefold() == str(b).casefold()
