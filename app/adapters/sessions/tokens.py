"""The session token: a JWT Countersign signs for a person its identity provider vouched for.

`iss` is PUBLIC_URL, `aud` "countersign-session", `sub` the provider's subject and `idp` the
provider's issuer, so the verifier maps it to the same person `(issuer, subject)` as the
provider's own token. `exp` is `iat` + SESSION_TTL, fixed at sign-in and never extended.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.adapters.identity.verifier import TrustedIssuer
from app.adapters.sessions.contract import SignIn
from app.adapters.sessions.keys import ALGORITHM, SessionKeys
from app.config.issuers import ClaimNames
from app.core.approvals.person import Person
from app.core.context import Identity

SESSION_AUDIENCE = "countersign-session"
#: The claim naming the identity provider's issuer.
PROVIDER_CLAIM = "idp"
#: Claims Countersign sets itself; extra claims given at sign-in never override them.
RESERVED = frozenset(
    {"iss", "aud", "sub", "idp", "sid", "iat", "nbf", "exp", "email", "groups", "amr", "auth_time"}
)
#: A session's claim names are fixed: they are Countersign's, not a provider's.
SESSION_CLAIMS = ClaimNames()


def new_session_id() -> str:
    """128 random bits, base64url."""
    return secrets.token_urlsafe(16)


def session_claims(
    sign_in: SignIn,
    *,
    issuer: str,
    sid: str,
    now: float,
    ttl_seconds: int,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The claims of a new session; `extra` (such as device posture) cannot override ours."""
    issued = int(now)
    claims = {k: v for k, v in (extra or {}).items() if k not in RESERVED}
    claims.update(
        {
            "iss": issuer,
            "aud": SESSION_AUDIENCE,
            "sub": sign_in.subject,
            PROVIDER_CLAIM: sign_in.issuer,
            "sid": sid,
            "iat": issued,
            "exp": issued + ttl_seconds,
            "email": sign_in.email,
            "groups": sorted(sign_in.groups),
            "amr": sorted(sign_in.amr),
            "auth_time": int(sign_in.auth_time),
        }
    )
    if sign_in.email is None:
        del claims["email"]
    return claims


def trusted_session_issuer(keys: SessionKeys, *, issuer: str) -> TrustedIssuer:
    """What the verifier needs to accept sessions: our own keys, no fetch, and the person's
    issuer taken from `idp`."""
    return TrustedIssuer(
        issuer=issuer,
        audiences=frozenset({SESSION_AUDIENCE}),
        algorithms=frozenset({ALGORITHM}),
        claims=SESSION_CLAIMS,
        keys=keys.verification_keys(),
        person_issuer_claim=PROVIDER_CLAIM,
    )


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What the deny-list needs from a verified session."""

    sid: str
    person: Person
    issued_at: float
    expires_at: float


def session_facts(identity: Identity) -> SessionFacts | None:
    """The facts of a verified session identity; None when a claim is missing or mistyped."""
    sid = identity.claims.get("sid")
    iat = identity.claims.get("iat")
    exp = identity.claims.get("exp")
    if not isinstance(sid, str) or not sid:
        return None
    issued, expires = _number(iat), _number(exp)
    if issued is None or expires is None:
        return None
    return SessionFacts(sid, Person.of(identity), issued, expires)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
