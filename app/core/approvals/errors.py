"""Why an approval transition was refused: a stable kebab-case code and a coarse category.

The category tells an API what kind of answer to give (invalid input, not allowed, or the
state has moved on) without the core knowing about HTTP.
"""

from __future__ import annotations

from enum import Enum, StrEnum


class Category(Enum):
    """What kind of refusal: the API maps INVALID to 422, FORBIDDEN to 403, CONFLICT to 409,
    and REAUTHENTICATE (allowed, once the person signs in again more strongly) to 401."""

    INVALID = "invalid"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    REAUTHENTICATE = "reauthenticate"


class ErrorCode(StrEnum):
    """The closed vocabulary of refusals. Adding one is an API change (CHANGELOG)."""

    # Who may act
    SELF_APPROVAL = "self-approval"
    NOT_AN_APPROVER = "not-an-approver"
    NOT_YOUR_REQUEST = "not-your-request"
    NOT_ALLOWED_TO_REVOKE = "not-allowed-to-revoke"
    STEP_UP_REQUIRED = "step-up-required"
    # State has moved on
    REQUEST_NOT_PENDING = "request-not-pending"
    REQUEST_EXPIRED = "request-expired"
    GRANT_NOT_ACTIVE = "grant-not-active"
    POLICY_MISMATCH = "policy-mismatch"
    # Input
    POLICY_NEEDS_NO_APPROVAL = "policy-needs-no-approval"
    POLICY_NEEDS_NO_JUSTIFICATION = "policy-needs-no-justification"
    POLICY_NEEDS_APPROVAL = "policy-needs-approval"
    DURATION_TOO_LONG = "duration-too-long"
    DURATION_NOT_POSITIVE = "duration-not-positive"
    DURATION_NOT_WHOLE_SECONDS = "duration-not-whole-seconds"
    JUSTIFICATION_REQUIRED = "justification-required"
    JUSTIFICATION_TOO_SHORT = "justification-too-short"
    JUSTIFICATION_TOO_LONG = "justification-too-long"
    JUSTIFICATION_PATTERN_MISMATCH = "justification-pattern-mismatch"
    JUSTIFICATION_CONTROL_CHARACTERS = "justification-control-characters"
    COMMENT_TOO_LONG = "comment-too-long"
    COMMENT_CONTROL_CHARACTERS = "comment-control-characters"
    # Planned windows and extensions (core.approvals.windows, extending)
    START_IN_PAST = "start-in-past"
    START_TOO_FAR_AHEAD = "start-too-far-ahead"
    WINDOW_OVER = "window-over"
    NOT_YOUR_GRANT = "not-your-grant"
    GRANT_NOT_EXTENDABLE = "grant-not-extendable"
    # Break-glass (core.approvals.break_glass)
    BREAK_GLASS_NOT_OFFERED = "break-glass-not-offered"
    NOT_ALLOWED_TO_BREAK_GLASS = "not-allowed-to-break-glass"
    NOT_BREAK_GLASS = "not-break-glass"
    BREAK_GLASS_ALREADY_REVIEWED = "break-glass-already-reviewed"
    GRANT_IN_FORCE = "grant-in-force"

    @property
    def category(self) -> Category:
        """INVALID unless listed as FORBIDDEN or CONFLICT."""
        return _CATEGORIES.get(self, Category.INVALID)


_CATEGORIES = {
    ErrorCode.SELF_APPROVAL: Category.FORBIDDEN,
    ErrorCode.NOT_AN_APPROVER: Category.FORBIDDEN,
    ErrorCode.NOT_YOUR_REQUEST: Category.FORBIDDEN,
    ErrorCode.NOT_ALLOWED_TO_REVOKE: Category.FORBIDDEN,
    ErrorCode.REQUEST_NOT_PENDING: Category.CONFLICT,
    ErrorCode.REQUEST_EXPIRED: Category.CONFLICT,
    ErrorCode.GRANT_NOT_ACTIVE: Category.CONFLICT,
    ErrorCode.WINDOW_OVER: Category.CONFLICT,
    ErrorCode.NOT_YOUR_GRANT: Category.FORBIDDEN,
    ErrorCode.POLICY_MISMATCH: Category.CONFLICT,
    ErrorCode.STEP_UP_REQUIRED: Category.REAUTHENTICATE,
    ErrorCode.NOT_ALLOWED_TO_BREAK_GLASS: Category.FORBIDDEN,
    ErrorCode.BREAK_GLASS_ALREADY_REVIEWED: Category.CONFLICT,
    ErrorCode.GRANT_IN_FORCE: Category.CONFLICT,
}


class ApprovalError(Exception):
    """A refused transition. Nothing changed; `code` is what tests, logs and the API speak."""

    def __init__(self, code: ErrorCode, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else str(code))
        self.code = code
        self.detail = detail

    @property
    def category(self) -> Category:
        """The kind of refusal, for choosing an API status."""
        return self.code.category


class StepUpRequiredError(ApprovalError):
    """step-up-required: the reviewer's sign-in is too old or lacks MFA for this policy.

    Carries the whole requirement (`mfa`, `max_age` in seconds, None when no age is set), which
    a new sign-in must meet, and what this sign-in lacks (`missing`: "mfa", "recent-sign-in").
    """

    def __init__(self, *, mfa: bool, max_age: int | None, missing: tuple[str, ...]) -> None:
        super().__init__(ErrorCode.STEP_UP_REQUIRED, ", ".join(missing))
        self.mfa = mfa
        self.max_age = max_age
        self.missing = missing
