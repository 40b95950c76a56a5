"""Why a sign-in failed: short kebab-case codes for logs, pages and tests, and the HTTP status
each one is answered with (400: the callback's input is wrong; 502: the provider is)."""

from __future__ import annotations

from enum import StrEnum


class SignInProblem(StrEnum):
    """The closed set of reasons a sign-in ends without a session."""

    BAD_REQUEST = "signin-bad-request"
    STATE_MISSING = "state-missing"
    STATE_UNKNOWN = "state-unknown"
    BINDING_MISSING = "binding-missing"
    BINDING_MISMATCH = "binding-mismatch"
    ISSUER_MISMATCH = "issuer-mismatch"
    CODE_MISSING = "code-missing"
    PROVIDER_REFUSED = "provider-refused"
    PROVIDER_FAILED = "provider-failed"
    CODE_REJECTED = "code-rejected"
    PROVIDER_UNAVAILABLE = "provider-unavailable"
    PROVIDER_BAD_ANSWER = "provider-bad-answer"
    ID_TOKEN_MISSING = "id-token-missing"  # noqa: S105  (a reason code, not a secret)
    ID_TOKEN_INVALID = "id-token-invalid"  # noqa: S105  (a reason code, not a secret)
    NONCE_MISMATCH = "nonce-mismatch"
    AT_HASH_MISMATCH = "at-hash-mismatch"
    USERINFO_SUBJECT_MISMATCH = "userinfo-subject-mismatch"
    AUTH_NOT_FRESH = "auth-not-fresh"
    ACR_NOT_SATISFIED = "acr-not-satisfied"

    @property
    def status(self) -> int:
        """400 for what the browser brought, 502 for what the provider answered."""
        return 502 if self in _PROVIDER_TROUBLE else 400


_PROVIDER_TROUBLE = frozenset(
    {
        SignInProblem.PROVIDER_FAILED,
        SignInProblem.PROVIDER_UNAVAILABLE,
        SignInProblem.PROVIDER_BAD_ANSWER,
        SignInProblem.ID_TOKEN_MISSING,
        SignInProblem.ID_TOKEN_INVALID,
        SignInProblem.AT_HASH_MISMATCH,
        SignInProblem.USERINFO_SUBJECT_MISMATCH,
    }
)


class SignInError(Exception):
    """A sign-in that must not yield a session. `detail` is a further code (e.g. the ID
    token's TokenProblem, the provider's `error`) for the log; never a token or a code."""

    def __init__(self, problem: SignInProblem, detail: str | None = None) -> None:
        super().__init__(problem.value if detail is None else f"{problem.value}: {detail}")
        self.problem = problem
        self.detail = detail
