"""Turning refusals into pages: every route of the UI runs through `page_route`, which answers
sign-in redirects, CSRF refusals, bad forms and the services' errors with a page of the right
status, and puts the security headers on every answer.

A request the viewer may not see is a 404, never a 403: no existence oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import structlog
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.adapters.signals.client_ip import ForwardedHeaderError
from app.adapters.ui.forms import CsrfError, FormError
from app.adapters.ui.render import Pages
from app.adapters.ui.security import PAGE_HEADERS
from app.adapters.ui.session import SignInRequiredError
from app.adapters.ui.views import human_duration
from app.core.approvals import ApprovalError, Category, ErrorCode, StepUpRequiredError
from app.services.errors import BadCursorError, NotRequestableError, NotVisibleError, ScopeError

log = structlog.get_logger("countersign.ui")

#: A page cannot answer 401 (no HTTP challenge fits a browser): a step-up refusal is a 403
#: page that links to signing in again.
STATUS_OF = {
    Category.INVALID: 422,
    Category.FORBIDDEN: 403,
    Category.CONFLICT: 409,
    Category.REAUTHENTICATE: 403,
}
MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.SELF_APPROVAL: "Nobody can review their own request.",
    ErrorCode.NOT_AN_APPROVER: "You are not an approver for this application.",
    ErrorCode.NOT_YOUR_REQUEST: "Only the person who asked can withdraw this request.",
    ErrorCode.NOT_ALLOWED_TO_REVOKE: "You may not end this access.",
    ErrorCode.STEP_UP_REQUIRED: "This approval needs a fresh sign-in.",
    ErrorCode.REQUEST_NOT_PENDING: "This request has already been decided.",
    ErrorCode.REQUEST_EXPIRED: "This request waited too long and has expired.",
    ErrorCode.GRANT_NOT_ACTIVE: "This access has already ended.",
    ErrorCode.POLICY_MISMATCH: "The policy of this request has changed; ask again.",
    ErrorCode.POLICY_NEEDS_NO_APPROVAL: "This application needs no approval.",
    ErrorCode.POLICY_NEEDS_NO_JUSTIFICATION: "This application asks for no reason.",
    ErrorCode.POLICY_NEEDS_APPROVAL: "This application needs an approval.",
    ErrorCode.DURATION_TOO_LONG: "That duration is longer than the policy allows.",
    ErrorCode.DURATION_NOT_POSITIVE: "The duration must be longer than zero.",
    ErrorCode.DURATION_NOT_WHOLE_SECONDS: "The duration must be whole seconds.",
    ErrorCode.JUSTIFICATION_REQUIRED: "Please say why you need access.",
    ErrorCode.JUSTIFICATION_TOO_SHORT: "The reason is too short",
    ErrorCode.JUSTIFICATION_TOO_LONG: "The reason is too long",
    ErrorCode.JUSTIFICATION_PATTERN_MISMATCH: "The reason is not in the form the policy asks for.",
    ErrorCode.JUSTIFICATION_CONTROL_CHARACTERS: "The reason holds characters that are not allowed.",
    ErrorCode.COMMENT_TOO_LONG: "The comment is too long",
    ErrorCode.COMMENT_CONTROL_CHARACTERS: "The comment holds characters that are not allowed.",
    ErrorCode.START_IN_PAST: "The start is in the past; leave it empty to start when approved.",
    ErrorCode.START_TOO_FAR_AHEAD: "The start is further ahead than the policy allows",
    ErrorCode.WINDOW_OVER: "The window asked for is already over.",
    ErrorCode.NOT_YOUR_GRANT: "Only the person who holds this access can ask for more time.",
    ErrorCode.GRANT_NOT_EXTENDABLE: "This access is renewed by giving a reason again.",
}
_WITH_DETAIL = frozenset(
    {
        ErrorCode.JUSTIFICATION_TOO_SHORT,
        ErrorCode.JUSTIFICATION_TOO_LONG,
        ErrorCode.COMMENT_TOO_LONG,
        ErrorCode.START_TOO_FAR_AHEAD,
    }
)


def approval_message(error: ApprovalError) -> str:
    """What a person is told about a refused transition (its code is in the page too)."""
    if isinstance(error, StepUpRequiredError):
        return step_up_message(error)
    text = MESSAGES.get(error.code, "That is not possible.")
    if error.code in _WITH_DETAIL and error.detail:
        return f"{text}: {error.detail}."
    return text


def step_up_message(error: StepUpRequiredError) -> str:
    """What an approver whose sign-in is too old or too weak is told."""
    within = ""
    if error.max_age is not None:
        within = f" (within the last {human_duration(timedelta(seconds=error.max_age))})"
    if error.mfa:
        fresh = "a fresh sign-in" if error.max_age is not None else "a sign-in"
        return f"This approval needs {fresh} with MFA{within}."
    return f"This approval needs a fresh sign-in{within}."


def approval_status(error: ApprovalError) -> int:
    """422 for bad input, 403 for not allowed, 409 when the state has moved on."""
    return STATUS_OF[error.category]


def page_route(pages: Pages, *, login_url: str) -> type[APIRoute]:
    """A route class whose handlers answer errors with pages and carry PAGE_HEADERS."""

    def refuse(request: Request, error: Exception) -> Response:
        if isinstance(error, SignInRequiredError):
            if request.method in ("GET", "HEAD"):
                return RedirectResponse(error.location, status_code=302)
            return pages.error(
                403,
                "Please sign in again",
                "Your sign-in has ended, so nothing was done. Sign in and try again.",
                sign_in=login_url,
            )
        if isinstance(error, CsrfError):
            return pages.error(
                403,
                "This form cannot be accepted",
                "The form expired or was sent from another site, so nothing was done. "
                "Go back, reload the page and try again.",
            )
        if isinstance(error, FormError):
            return pages.error(error.status, "This form cannot be read", error.message)
        if isinstance(error, NotVisibleError):
            return pages.error(404, "Not found", "There is nothing here, or not for you.")
        if isinstance(error, NotRequestableError):
            return pages.error(
                403, "You cannot ask for access", error.wording, code=error.reason.value
            )
        if isinstance(error, ScopeError):
            return pages.error(403, "Not allowed", "This needs a person signed in.")
        if isinstance(error, ApprovalError):
            return pages.error(
                approval_status(error),
                "That did not work",
                approval_message(error),
                code=str(error.code),
            )
        if isinstance(error, ForwardedHeaderError):
            return pages.error(
                400, "Your proxy sent unreadable headers", "Ask the operator of this site."
            )
        if isinstance(error, BadCursorError | RequestValidationError):
            return pages.error(400, "This address is not valid", "Check the link and try again.")
        if isinstance(error, RedisError):
            log.warning("page_store_unavailable", path=request.url.path, problem=str(error)[:200])
            return pages.error(
                503, "Please try again soon", "Countersign cannot reach its store right now."
            )
        log.exception("page_failed", path=request.url.path)
        return pages.error(500, "Something went wrong", "Nothing was changed. Try again.")

    class PageRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    response = await handler(request)
                except Exception as error:  # every failure becomes a page, never a traceback
                    response = refuse(request, error)
                for name, value in PAGE_HEADERS.items():
                    response.headers.setdefault(name, value)
                return response

            return guarded

    return PageRoute
