"""Split a compact JWS (`header.payload.signature`) strictly, before any key is touched.

Only what is needed to route the token is read unverified: the header's `alg` and `kid` and the
payload's `iss`. Everything else is trusted only after the signature checks out.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from app.adapters.identity.errors import IdentityError, TokenProblem

_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True, slots=True)
class CompactToken:
    """A syntactically valid JWS; `claims` are NOT verified yet."""

    alg: str
    kid: str | None
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _b64decode(segment: str) -> bytes:
    if not _SEGMENT.match(segment) or len(segment) % 4 == 1:
        raise IdentityError(TokenProblem.MALFORMED)
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise IdentityError(TokenProblem.MALFORMED) from None


def _json_object(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(segment))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise IdentityError(TokenProblem.MALFORMED) from None
    if not isinstance(value, dict):
        raise IdentityError(TokenProblem.MALFORMED)
    return value


def parse_compact(token: str) -> CompactToken:
    """Raise IdentityError(token-malformed) unless `token` is three base64url JSON parts."""
    if not token.isascii():
        raise IdentityError(TokenProblem.MALFORMED)
    parts = token.split(".")
    if len(parts) != 3:  # five parts would be an encrypted JWE, which we do not accept
        raise IdentityError(TokenProblem.MALFORMED)
    header_segment, payload_segment, signature_segment = parts
    header = _json_object(header_segment)
    alg = header.get("alg")
    kid = header.get("kid")
    if not isinstance(alg, str) or (kid is not None and not isinstance(kid, str)):
        raise IdentityError(TokenProblem.MALFORMED)
    if "crit" in header or header.get("b64") is False:
        # Extensions we do not implement must make the token invalid (RFC 7515 §4.1.11).
        raise IdentityError(TokenProblem.MALFORMED)
    claims = _json_object(payload_segment)
    signature = _b64decode(signature_segment) if signature_segment else b""
    return CompactToken(
        alg=alg,
        kid=kid,
        claims=claims,
        signing_input=f"{header_segment}.{payload_segment}".encode("ascii"),
        signature=signature,
    )
