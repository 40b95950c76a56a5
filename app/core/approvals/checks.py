"""Input checks shared by the transitions: the clock value, durations, justifications, comments.

Each returns the cleaned value or raises ApprovalError with a stable code; none has effects.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

from app.core.approvals.errors import ApprovalError, ErrorCode
from app.core.durations import in_words
from app.core.policy.model import Approval, Justification

#: Bound for review comments and revocation reasons.
MAX_COMMENT_LENGTH = 2000
#: Bound for a reason given where the policy asks for none (it is still recorded).
MAX_UNASKED_JUSTIFICATION = 2000
#: Longer input is refused before any scan: a megabyte of text is never a justification.
_SCAN_LIMIT = 20_000
_ONE_SECOND = timedelta(seconds=1)


def require_aware(now: datetime) -> datetime:
    """`now` in UTC. A naive datetime is a programming error, never guessed at."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.astimezone(UTC)


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a control character (C0, DEL or C1) other than newline and tab."""
    return any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text)


def _normalise(text: str) -> str:
    # Browsers submit textareas with CRLF line ends; a lone CR is still refused afterwards.
    return text.replace("\r\n", "\n")


def clean_justification(text: str | None, rules: Justification | None) -> str | None:
    """The justification to record, stripped; None when none was given and none is needed."""
    given = _normalise(text).strip() if text is not None else ""
    if not given:
        if rules is not None:
            raise ApprovalError(ErrorCode.JUSTIFICATION_REQUIRED, "a justification is required")
        return None
    if len(given) > _SCAN_LIMIT:
        raise ApprovalError(ErrorCode.JUSTIFICATION_TOO_LONG, "the justification is too long")
    if rules is None:
        if has_control_characters(given):
            raise ApprovalError(ErrorCode.JUSTIFICATION_CONTROL_CHARACTERS)
        if len(given) > MAX_UNASKED_JUSTIFICATION:
            raise ApprovalError(ErrorCode.JUSTIFICATION_TOO_LONG)
        return given
    problem = rules.problem_with(given)
    if problem is None and has_control_characters(given):
        problem = ErrorCode.JUSTIFICATION_CONTROL_CHARACTERS
    if problem is not None:
        code = ErrorCode(problem)
        raise ApprovalError(code, _justification_detail(code, rules))
    return given


def _justification_detail(code: ErrorCode, rules: Justification) -> str:
    if code is ErrorCode.JUSTIFICATION_TOO_SHORT:
        return f"at least {rules.min_length} characters"
    if code is ErrorCode.JUSTIFICATION_TOO_LONG:
        return f"at most {rules.max_length} characters"
    if code is ErrorCode.JUSTIFICATION_PATTERN_MISMATCH:
        return "does not have the form the policy asks for"
    return "control characters are not allowed"


def check_duration(value: timedelta, approval: Approval) -> timedelta:
    """A grant duration: positive, whole seconds, and at most the policy's `max_duration`."""
    if value <= timedelta(0):
        raise ApprovalError(ErrorCode.DURATION_NOT_POSITIVE, "a duration must be positive")
    if value % _ONE_SECOND:
        raise ApprovalError(ErrorCode.DURATION_NOT_WHOLE_SECONDS)
    if value > approval.max_duration:
        limit = in_words(approval.max_duration)
        raise ApprovalError(ErrorCode.DURATION_TOO_LONG, f"at most {limit}")
    return value


def clean_comment(text: str | None) -> str | None:
    """A review comment or revocation reason: bounded, no control characters; blank is None."""
    if text is None:
        return None
    given = _normalise(text).strip()
    if len(given) > MAX_COMMENT_LENGTH:
        raise ApprovalError(ErrorCode.COMMENT_TOO_LONG, f"at most {MAX_COMMENT_LENGTH} characters")
    if has_control_characters(given):
        raise ApprovalError(ErrorCode.COMMENT_CONTROL_CHARACTERS)
    return given or None


def require_id(value: str, what: str) -> str:
    """A caller-made identifier; an empty one would make an unreadable record."""
    if not value:
        raise ValueError(f"{what} must be a non-empty string")
    return value
