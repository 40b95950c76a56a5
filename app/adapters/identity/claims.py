"""Check a signed token's registered claims and map its claims onto an Identity.

Times are checked here with the injected clock (python-jose's own checks read the wall clock),
so tests can move time and every replica applies the same leeway.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from app.adapters.identity.errors import IdentityError, TokenProblem
from app.config.issuers import ClaimNames
from app.core.context import Identity


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def check_times(claims: Mapping[str, Any], *, now: float, leeway: float) -> float:
    """Return `exp`. A token without a numeric `exp` is malformed: we never accept forever."""
    exp = _number(claims.get("exp"))
    if exp is None:
        raise IdentityError(TokenProblem.MALFORMED)
    if now >= exp + leeway:
        raise IdentityError(TokenProblem.EXPIRED)
    if "nbf" in claims:
        nbf = _number(claims["nbf"])
        if nbf is None:
            raise IdentityError(TokenProblem.MALFORMED)
        if now + leeway < nbf:
            raise IdentityError(TokenProblem.NOT_YET_VALID)
    return exp


def check_audience(claims: Mapping[str, Any], audiences: frozenset[str]) -> None:
    """`aud` (a string or a list) must name one of the audiences we accept."""
    aud = claims.get("aud")
    given = [aud] if isinstance(aud, str) else aud
    if not isinstance(given, list) or not any(
        isinstance(item, str) and item in audiences for item in given
    ):
        raise IdentityError(TokenProblem.AUDIENCE_INVALID)


def _string_list(value: object) -> frozenset[str]:
    """A list of strings (each one name, as given), or one string of names separated by commas.

    Never split on spaces: group names hold them ("Former admins" is not a member of "admins").
    Pieces of a string are trimmed and empty ones dropped; the empty string is never a name.
    """
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(stripped for part in value.split(",") if (stripped := part.strip()))
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(item for item in value if item)
    raise IdentityError(TokenProblem.MALFORMED)


def freeze(value: object) -> Any:
    """A read-only deep copy of decoded JSON: mappings become proxies, lists tuples."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def person_issuer(claims: Mapping[str, Any], name: str) -> str:
    """The issuer that authenticated the person, from claim `name` of a token that carries it
    (a session); token-malformed when it is missing or not a non-empty string."""
    value = claims.get(name)
    if not isinstance(value, str) or not value.strip():
        raise IdentityError(TokenProblem.MALFORMED)
    return value


def identity_from_claims(claims: Mapping[str, Any], *, issuer: str, names: ClaimNames) -> Identity:
    """The Identity a verified token asserts; raises token-malformed for claims of wrong type."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise IdentityError(TokenProblem.MALFORMED)
    email = claims.get(names.email)
    if email is not None and not isinstance(email, str):
        raise IdentityError(TokenProblem.MALFORMED)
    if email is not None:
        email = email.strip().lower() or None
    # An address the IdP says it has not verified must not satisfy an email rule.
    if claims.get("email_verified") is False:
        email = None
    return Identity(
        subject=subject,
        email=email,
        groups=_string_list(claims.get(names.groups)),
        amr=_string_list(claims.get(names.amr)),
        claims=freeze(dict(claims)),
        issuer=issuer,
    )
