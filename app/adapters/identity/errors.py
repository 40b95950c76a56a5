"""Why a token was refused: short kebab-case codes for logs, metrics and headers."""

from __future__ import annotations

from enum import StrEnum


class TokenProblem(StrEnum):
    """The closed set of reasons a token is not an identity. Never carries the token itself."""

    MALFORMED = "token-malformed"
    TOO_LARGE = "token-too-large"
    AMBIGUOUS = "token-ambiguous"
    ALG_NOT_ALLOWED = "token-alg-not-allowed"
    SIGNATURE_INVALID = "token-signature-invalid"
    EXPIRED = "token-expired"
    NOT_YET_VALID = "token-not-yet-valid"
    ISSUED_IN_FUTURE = "token-issued-in-future"
    ISSUER_UNKNOWN = "token-issuer-unknown"
    AUDIENCE_INVALID = "token-audience-invalid"
    KEY_UNKNOWN = "token-key-unknown"
    JWKS_UNAVAILABLE = "jwks-unavailable"
    #: A Countersign session that was signed out or ended by an admin.
    SESSION_ENDED = "session-ended"
    #: A Countersign session whose end cannot be ruled out because Redis does not answer.
    SESSION_UNCHECKABLE = "session-uncheckable"


class IdentityError(Exception):
    """A token that does not prove who the caller is; `reason` is a TokenProblem code."""

    def __init__(self, reason: TokenProblem) -> None:
        super().__init__(reason.value)
        self.reason = reason
