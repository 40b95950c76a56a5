"""Request bodies of /api/v1 and the checks a JSON schema cannot state: durations in the policy
notation or ISO 8601, and no lone surrogates in text (they cannot be stored as UTF-8).

Every string is bounded so oversized input is refused (422) before any work is done; what a
policy allows (a justification's length and pattern) is the core's to judge, with its codes.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.adapters.api.v1.problems import ProblemError
from app.adapters.api.v1.times import MomentText
from app.core.approvals import ErrorCode
from app.core.durations import DurationError, parse_duration

#: The longest justification any policy may allow (policy `max_length` is at most 10,000).
MAX_JUSTIFICATION = 10_000
#: Longer than the core's limit for comments, so the core answers with its own code.
MAX_COMMENT = 4_000
MAX_NAME = 256
MAX_DURATION_TEXT = 32

_NUMBER = re.compile(r"^-?[0-9]+$")
_SHORT = re.compile(r"^-?[0-9]+[smhd]$")
_ISO = re.compile(r"^-?P(?:[0-9]+D)?(?:T(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+S)?)?$")
_DIGITS = re.compile(r"[0-9]+")


def _storable(text: str) -> str:
    if any("\ud800" <= c <= "\udfff" for c in text):
        raise ValueError("text must not contain unpaired surrogates")
    return text


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_storable)]
Justification = Annotated[str, Field(max_length=MAX_JUSTIFICATION), AfterValidator(_storable)]
Comment = Annotated[str, Field(max_length=MAX_COMMENT), AfterValidator(_storable)]
RequiredComment = Annotated[
    str, Field(min_length=1, max_length=MAX_COMMENT), AfterValidator(_storable)
]
DurationText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_DURATION_TEXT,
        description="`30m`, `4h`, `7d` or ISO 8601 such as `PT30M`.",
        examples=["30m", "PT2H"],
    ),
]


class NewAccessRequest(BaseModel):
    """Ask for access to an application for yourself."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "application": "grafana",
                    "justification": "INC-1234 error budget",
                    "duration": "2h",
                }
            ]
        },
    )

    application: Name
    justification: Justification | None = None
    duration: DurationText | None = None
    #: A planned window: access from then for `duration` (or the policy's default).
    starts_at: MomentText | None = None


class ExtensionBody(BaseModel):
    """Ask for more time on your own grant: reviewed like any request under its policy."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"justification": "CHG-1234 the migration runs late", "duration": "1h"}]
        },
    )

    justification: Justification | None = None
    duration: DurationText | None = None


class ApprovalBody(BaseModel):
    """Approve, optionally for a shorter (never longer) time than the policy's maximum."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"duration": "PT30M", "comment": "for the incident"}]},
    )

    duration: DurationText | None = None
    comment: Comment | None = None


class DenialBody(BaseModel):
    """Deny, saying why."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"comment": "use the read replica"}]}
    )

    comment: RequiredComment


def to_timedelta(value: str | None) -> timedelta | None:
    """A duration from the API: 422 `duration-not-positive` for zero or negative values,
    `duration-too-long` past what Countersign allows at all, `duration-invalid` otherwise."""
    if value is None:
        return None
    given = value.strip()
    with_unit = bool(_SHORT.match(given)) or (
        bool(_ISO.match(given)) and not given.endswith("T") and bool(_DIGITS.search(given))
    )
    numeric = with_unit or bool(_NUMBER.match(given))
    if numeric and (given.startswith("-") or all(int(d) == 0 for d in _DIGITS.findall(given))):
        raise ProblemError(
            422, ErrorCode.DURATION_NOT_POSITIVE.value, "a duration must be greater than zero"
        )
    try:
        return parse_duration(given, allow_iso=True)
    except DurationError as error:
        # A well-formed positive duration that does not parse is beyond the largest one.
        code = ErrorCode.DURATION_TOO_LONG.value if with_unit else "duration-invalid"
        raise ProblemError(422, code, str(error)) from None
