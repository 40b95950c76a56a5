"""What a person is told when a sign-in fails or a sign-out is done: a title and a sentence
per reason code (the code itself is on the page too, for support)."""

from __future__ import annotations

from starlette.responses import HTMLResponse

from app.adapters.signin.errors import SignInProblem
from app.adapters.ui.render import Pages

_START_AGAIN = "Start again from the application you wanted to open."
_TEXT: dict[SignInProblem, tuple[str, str]] = {
    SignInProblem.BAD_REQUEST: ("This sign-in address is not valid", _START_AGAIN),
    SignInProblem.STATE_MISSING: ("This sign-in answer is incomplete", _START_AGAIN),
    SignInProblem.STATE_UNKNOWN: (
        "This sign-in has expired or was already used",
        "Sign-in links work once, for ten minutes. " + _START_AGAIN,
    ),
    SignInProblem.BINDING_MISSING: (
        "This sign-in was started in another browser",
        "The sign-in must finish in the browser that started it. " + _START_AGAIN,
    ),
    SignInProblem.BINDING_MISMATCH: (
        "This sign-in was started in another browser",
        "The sign-in must finish in the browser that started it. " + _START_AGAIN,
    ),
    SignInProblem.ISSUER_MISMATCH: (
        "This answer came from another identity provider",
        "Countersign only accepts sign-ins from its own provider. " + _START_AGAIN,
    ),
    SignInProblem.CODE_MISSING: ("This sign-in answer is incomplete", _START_AGAIN),
    SignInProblem.PROVIDER_REFUSED: (
        "The identity provider did not sign you in",
        "You may have cancelled, or the provider refused. " + _START_AGAIN,
    ),
    SignInProblem.CODE_REJECTED: (
        "The identity provider refused this sign-in",
        "Its code may have been used already. " + _START_AGAIN,
    ),
    SignInProblem.NONCE_MISMATCH: (
        "This answer belongs to another sign-in",
        _START_AGAIN,
    ),
    SignInProblem.AUTH_NOT_FRESH: (
        "A fresh sign-in is needed",
        "The identity provider did not ask you to sign in again, as this page requires.",
    ),
    SignInProblem.ACR_NOT_SATISFIED: (
        "A stronger sign-in is needed",
        "This page needs a sign-in with a second factor, and the provider did not report one.",
    ),
}
_PROVIDER_TROUBLE = (
    "The identity provider is not answering properly",
    "Countersign cannot reach the identity provider or cannot use its answer. "
    "Try again in a moment.",
)


def failure_page(
    pages: Pages, problem: SignInProblem, *, retry_url: str | None = None
) -> HTMLResponse:
    """The page for a failed sign-in, with the problem's status and code."""
    title, message = _TEXT.get(problem, _PROVIDER_TROUBLE)
    return pages.error(problem.status, title, message, code=problem.value, sign_in=retry_url)


def not_configured_page(pages: Pages) -> HTMLResponse:
    """/login on a service with neither an OpenID provider nor dev mode (bearer tokens or an
    upstream identity proxy only)."""
    return pages.error(
        401,
        "Sign-in is not configured here",
        "This Countersign has no sign-in page of its own. Sign in through your identity "
        "provider, then open the application again.",
        code="signin-not-configured",
    )


def signed_out_page(pages: Pages, *, continue_url: str | None = None) -> HTMLResponse:
    """You are signed out (with a link onwards when there is a safe place to go)."""
    return pages.render(
        "notice.html",
        title="You are signed out",
        message="Your Countersign session has ended.",
        continue_url=continue_url,
    )
