"""RFC 9457 problem details: the one error shape of /api/v1, and the map from every refusal the
services raise to a status and a stable `code`."""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import structlog
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException

from app.adapters.signals.client_ip import ForwardedHeaderError
from app.adapters.store.durability import DurabilityUnavailableError, UnconfirmedWriteError
from app.adapters.store.redis_workflow import ContentionError
from app.core.approvals import ApprovalError, Category, ErrorCode, StepUpRequiredError
from app.core.durations import in_words
from app.services.errors import BadCursorError, NotRequestableError, NotVisibleError, ScopeError

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:countersign:problem:"
_BY_CATEGORY = {
    Category.INVALID: 422,
    Category.FORBIDDEN: 403,
    Category.CONFLICT: 409,
    Category.REAUTHENTICATE: 401,
}
_HTTP_CODES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "body-too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
}
_MAX_LISTED_ERRORS = 20
_RETRY = {"retry-after": "1"}

log = structlog.get_logger("countersign.api")


class FieldProblem(BaseModel):
    """One invalid field: where (`body.justification`), what is wrong, and pydantic's type."""

    location: str
    message: str
    type: str


class StepUpNeed(BaseModel):
    """What a new sign-in must show (`step-up-required`): MFA, and/or at most `max_age` seconds
    old; `missing` says what the current one lacks (`mfa`, `recent-sign-in`)."""

    mfa: bool
    max_age: int | None
    missing: list[str]


class Problem(BaseModel):
    """An error answer (RFC 9457). `code` is stable: clients and tests match on it.

    With `step-up-required`, `step_up` says what the sign-in lacks and `sign_in_url` where a
    person signs in again (then lands on the request's review page)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldProblem] | None = None
    step_up: StepUpNeed | None = None
    sign_in_url: str | None = None


class ProblemError(Exception):
    """Raised by the API's own checks (authentication, admin-only, input the models cannot
    express); rendered as a problem by the route class."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[FieldProblem] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = list(errors)
        #: RFC 9457 extension members (fields of Problem beyond the standard ones).
        self.extra = dict(extra or {})


def to_problem(exc: Exception) -> ProblemError:
    """The problem for any exception a route can raise; unknown ones are a logged 500."""
    if isinstance(exc, ProblemError):
        return exc
    if isinstance(exc, StepUpRequiredError):
        return step_up_problem(exc)
    if isinstance(exc, ApprovalError):
        return ProblemError(_BY_CATEGORY[exc.category], exc.code.value, _approval_detail(exc))
    if isinstance(exc, NotVisibleError):
        return ProblemError(404, "not-found", "no such record, or you may not see it")
    if isinstance(exc, ScopeError):
        return ProblemError(403, "insufficient-scope", str(exc))
    if isinstance(exc, NotRequestableError):
        return ProblemError(403, exc.reason.value, exc.wording)
    if isinstance(exc, BadCursorError):
        return ProblemError(422, "bad-cursor", "this cursor was not handed out by this listing")
    if isinstance(exc, ForwardedHeaderError):
        return ProblemError(400, "bad-forwarded-metadata", str(exc))
    if isinstance(exc, RequestValidationError):
        return _invalid(exc.errors())
    if isinstance(exc, HTTPException):
        code = _HTTP_CODES.get(exc.status_code, "http-error")
        return ProblemError(exc.status_code, code, str(exc.detail), headers=exc.headers)
    if isinstance(exc, ContentionError):
        log.warning("api_contention")
        return ProblemError(
            503, "contention", "the record kept changing; try again", headers=_RETRY
        )
    if isinstance(exc, UnconfirmedWriteError):
        log.warning("api_change_unconfirmed", problem=str(exc)[:200])
        return ProblemError(
            503,
            "store-unavailable",
            "the change could not be confirmed durable (it may have been applied); retrying "
            "with the same Idempotency-Key is safe",
            headers=_RETRY,
        )
    if isinstance(exc, DurabilityUnavailableError):
        log.warning("api_durability_unavailable", problem=str(exc)[:300])
        return ProblemError(
            503,
            "store-unavailable",
            "the store cannot make changes durable right now; nothing was changed, try again",
            headers=_RETRY,
        )
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        log.warning("api_store_unavailable", problem=type(exc).__name__)
        return ProblemError(
            503, "store-unavailable", "the store cannot answer right now; try again", headers=_RETRY
        )
    frames = traceback.extract_tb(exc.__traceback__)
    log.error(
        "api_internal_error",
        error=type(exc).__name__,
        problem=str(exc)[:300],
        at=f"{frames[-1].filename}:{frames[-1].lineno}" if frames else None,
    )
    return ProblemError(500, "internal-error", "the request could not be completed")


_SENTENCES = {
    ErrorCode.SELF_APPROVAL: "requesters cannot review their own request",
    ErrorCode.NOT_AN_APPROVER: "you are not an approver under this request's policy",
    ErrorCode.NOT_YOUR_REQUEST: "only the requester can cancel a request",
    ErrorCode.NOT_ALLOWED_TO_REVOKE: "only its holder, an approver or an admin can end a grant",
    ErrorCode.REQUEST_NOT_PENDING: "the request is no longer pending",
    ErrorCode.REQUEST_EXPIRED: "the request expired before enough approvals",
    ErrorCode.GRANT_NOT_ACTIVE: "the grant is no longer active",
    ErrorCode.POLICY_MISMATCH: "the request's policy has changed since it was made",
    ErrorCode.DURATION_TOO_LONG: "the duration is longer than the policy allows",
    ErrorCode.DURATION_NOT_POSITIVE: "a duration must be positive",
    ErrorCode.JUSTIFICATION_REQUIRED: "a justification is required",
    ErrorCode.JUSTIFICATION_TOO_SHORT: "the justification is too short",
    ErrorCode.JUSTIFICATION_TOO_LONG: "the justification is too long",
    ErrorCode.JUSTIFICATION_PATTERN_MISMATCH: (
        "the justification does not have the form the policy asks for"
    ),
    ErrorCode.JUSTIFICATION_CONTROL_CHARACTERS: (
        "control characters are not allowed in a justification"
    ),
    ErrorCode.COMMENT_TOO_LONG: "the comment is too long",
    ErrorCode.COMMENT_CONTROL_CHARACTERS: "control characters are not allowed in a comment",
}


def step_up_problem(
    error: StepUpRequiredError, *, sign_in_url: str | None = None, acr_values: str | None = None
) -> ProblemError:
    """401 `step-up-required` with the RFC 9470 challenge (`insufficient_user_authentication`,
    `max_age` when an age is asked, `acr_values` when MFA is asked and the provider has an ACR
    for it), what is needed, and where to sign in again."""
    params = [
        'error="insufficient_user_authentication"',
        f'error_description="{_step_up_sentence(error)}"',
    ]
    if error.max_age is not None:
        params.append(f"max_age={error.max_age}")
    if error.mfa and acr_values:
        params.append(f'acr_values="{acr_values}"')
    need = StepUpNeed(mfa=error.mfa, max_age=error.max_age, missing=list(error.missing))
    extra: dict[str, Any] = {"step_up": need.model_dump()}
    if sign_in_url is not None:
        extra["sign_in_url"] = sign_in_url
    return ProblemError(
        401,
        error.code.value,
        _step_up_sentence(error),
        headers={"www-authenticate": 'Bearer realm="countersign", ' + ", ".join(params)},
        extra=extra,
    )


def _step_up_sentence(error: StepUpRequiredError) -> str:
    wanted = []
    if error.mfa:
        wanted.append("with MFA")
    if error.max_age is not None:
        wanted.append(f"within the last {in_words(timedelta(seconds=error.max_age))}")
    return "approving this request needs a sign-in " + " and ".join(wanted)


def _approval_detail(exc: ApprovalError) -> str:
    sentence = _SENTENCES.get(exc.code)
    if sentence is None:
        return exc.detail or exc.code.value
    if not exc.detail or exc.detail in sentence:
        return sentence
    return f"{sentence} ({exc.detail})"


def render(problem: ProblemError) -> JSONResponse:
    """The problem as an `application/problem+json` response, never cached."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + problem.code,
        "title": _title(problem.status),
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
    }
    if problem.errors:
        body["errors"] = [error.model_dump() for error in problem.errors]
    body.update(problem.extra)
    headers = {"cache-control": "no-store", **problem.headers}
    return JSONResponse(body, status_code=problem.status, headers=headers, media_type=MEDIA_TYPE)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _invalid(raw: Sequence[Any]) -> ProblemError:
    # Pydantic's errors echo the input: never send a megabyte (or a secret) back.
    errors = [
        FieldProblem(
            location=".".join(str(part) for part in error.get("loc", ())),
            message=str(error.get("msg", ""))[:200],
            type=str(error.get("type", "")),
        )
        for error in raw[:_MAX_LISTED_ERRORS]
    ]
    first = f"{errors[0].location}: {errors[0].message}" if errors else "invalid input"
    return ProblemError(422, "invalid-input", first, errors=errors)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the problems a route may answer. FastAPI also lists the
    route's own media type for them; `openapi.document` drops it from the checked-in file."""
    return {
        status: {
            "model": Problem,
            "description": _title(status),
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in sorted({401, 422, 503, *statuses})
    }
