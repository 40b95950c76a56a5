"""The sign-in routes.

| route | what it does |
|---|---|
| `GET /login?rd=..[&prompt=login][&max_age=N][&mfa=1]` | start a sign-in (or the dev login) |
| `GET /login/callback?code&state[&iss]` or `?error&state` | a session, then back to `rd` |
| `GET /logout?rd=..` | a confirmation page (a GET never signs anyone out: no logout CSRF) |
| `POST /logout` | end the session, then the provider's end-session endpoint or `rd` |
| `GET /logout/done?state=..` | where the provider sends the browser back after signing out |

Login CSRF: /login sets a random value in a `SameSite=Lax; HttpOnly` cookie on the `/login`
path and stores only its SHA-256 with the flow; the callback needs the same browser.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote, urlsplit

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.adapters.sessions.contract import Sessions
from app.adapters.signin.errors import SignInError, SignInProblem
from app.adapters.signin.flows import PendingSignIn, SignInFlows
from app.adapters.signin.pages import failure_page, not_configured_page, signed_out_page
from app.adapters.signin.relying_party import RelyingParty, provider_error_problem
from app.adapters.ui.errors import page_route
from app.adapters.ui.forms import CsrfError, read_form, read_post
from app.adapters.ui.render import Pages
from app.adapters.ui.security import (
    csp_allowing_form_redirect_to,
    origin_of,
    same_origin_post,
)
from app.adapters.ui.session import Sessions as PageViewers
from app.config.settings import AccessSettings, DevSettings, IdentitySettings, ServerSettings
from app.services.ports import Identify

log = structlog.get_logger("countersign.signin")

BINDING_COOKIE = "countersign_signin"
BINDING_MAX_AGE = 600
MAX_PARAM = 4096
MAX_STATE = 512
#: A provider's `error` code is ASCII from a small set; anything else is logged as "other".
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_BINDING = re.compile(r"^[A-Za-z0-9_-]{43}$")
_NO_STORE = {"cache-control": "no-store"}
_CSP = "content-security-policy"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("ascii", "replace")).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def signin_router(  # noqa: PLR0915  (a router factory: one closure per route)
    *,
    server: ServerSettings,
    identity: IdentitySettings,
    access: AccessSettings,
    dev: DevSettings,
    sessions: Sessions | None,
    relying_party: RelyingParty | None,
    flows: SignInFlows | None,
    identify: Identify,
    is_safe_redirect: Callable[[str], bool],
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """The routes above, for one process. Without `relying_party` (no OIDC_ISSUER), /login
    goes to the dev login in dev mode and says sign-in is not configured otherwise. Without
    `sessions` (no session keys) there is no session to end at /logout."""
    public_url = server.public_url.rstrip("/")
    base_path = urlsplit(public_url).path.rstrip("/")
    binding_path = base_path + "/login"
    secure = server.public_is_https
    viewers = PageViewers(
        identify=identify,
        cookie_name=identity.cookie_name,
        assertion_header=identity.assertion_header,
        max_token_bytes=identity.max_token_bytes,
        admin_groups=frozenset(access.admin_groups),
        login_url=server.login_url,
        public_url=public_url,
    )
    pages = Pages(base_path=base_path, clock=_utc_now)
    route_class = page_route(pages, login_url=server.login_url)
    router = APIRouter(route_class=route_class, include_in_schema=False)

    def safe(rd: str) -> str:
        return rd if rd and is_safe_redirect(rd) else ""

    def retry_url(rd: str) -> str:
        return f"{public_url}/login?rd={quote(rd or public_url + '/', safe='')}"

    def refuse(problem: SignInProblem, *, detail: str | None = None, rd: str = "") -> Response:
        log.warning("signin_failed", reason=problem.value, detail=detail)
        return failure_page(pages, problem, retry_url=retry_url(rd))

    @router.get("/login")
    async def login(
        request: Request,
        rd: Annotated[str, Query(max_length=MAX_PARAM)] = "",
        prompt: Annotated[str | None, Query(max_length=16)] = None,
        max_age: Annotated[int | None, Query(ge=0, le=31_536_000)] = None,
        mfa: Annotated[str | None, Query(max_length=1)] = None,
    ) -> Response:
        if relying_party is None or flows is None:
            if dev.enabled:
                target = rd if is_safe_redirect(rd or "/") and rd else "/"
                return RedirectResponse(
                    f"{base_path}/dev/login?rd={quote(target, safe='')}", status_code=302
                )
            return not_configured_page(pages)
        if prompt not in (None, "login") or mfa not in (None, "0", "1"):
            return refuse(SignInProblem.BAD_REQUEST, detail="step-up-parameters")
        target = safe(rd) or public_url + "/"
        binding = request.cookies.get(BINDING_COOKIE, "")
        if not _BINDING.match(binding):
            binding = secrets.token_urlsafe(32)
        state = secrets.token_urlsafe(32)
        pending = PendingSignIn(
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(64),
            binding=_digest(binding),
            rd=target,
            started_at=int(clock()),
            prompt=prompt,
            max_age=max_age,
            mfa=mfa == "1",
        )
        try:
            url = await relying_party.authorization_url(state=state, pending=pending)
        except SignInError as error:
            return refuse(error.problem, detail=error.detail, rd=target)
        await flows.save(state, pending)
        response = RedirectResponse(url, status_code=302, headers=_NO_STORE)
        response.set_cookie(
            BINDING_COOKIE,
            binding,
            max_age=BINDING_MAX_AGE,
            path=binding_path,
            secure=secure,
            httponly=True,
            samesite="lax",
        )
        log.info("signin_started", step_up=bool(prompt or max_age is not None or pending.mfa))
        return response

    @router.get("/login/callback")
    async def callback(request: Request) -> Response:
        if relying_party is None or flows is None or sessions is None:
            return not_configured_page(pages)
        params = request.query_params
        names = ("state", "code", "error", "iss")
        if any(len(params.getlist(name)) > 1 for name in names) or any(
            len(params.get(name, "")) > MAX_PARAM for name in names
        ):
            return refuse(SignInProblem.BAD_REQUEST, detail="repeated-or-long-parameter")
        state = params.get("state", "")
        if not state or len(state) > MAX_STATE:
            return refuse(SignInProblem.STATE_MISSING)
        # Taken (and deleted) before anything else: whatever happens next, it is used up.
        pending = await flows.take(state)
        if pending is None:
            return refuse(SignInProblem.STATE_UNKNOWN)
        binding = request.cookies.get(BINDING_COOKIE)
        if not binding:
            return refuse(SignInProblem.BINDING_MISSING, rd=pending.rd)
        if not hmac.compare_digest(_digest(binding), pending.binding):
            return refuse(SignInProblem.BINDING_MISMATCH, rd=pending.rd)
        # RFC 9207: a provider that names itself must be ours (mix-up defence).
        iss = params.get("iss")
        if iss is not None and iss != relying_party.settings.issuer:
            return refuse(SignInProblem.ISSUER_MISMATCH, rd=pending.rd)
        error = params.get("error")
        if error is not None:
            code = error if _ERROR_CODE.match(error) else "other"
            return refuse(provider_error_problem(error), detail=code, rd=pending.rd)
        code = params.get("code", "")
        if not code:
            return refuse(SignInProblem.CODE_MISSING, rd=pending.rd)
        try:
            sign_in = await relying_party.complete(code=code, pending=pending)
        except SignInError as failure:
            return refuse(failure.problem, detail=failure.detail, rd=pending.rd)
        response = RedirectResponse(pending.rd, status_code=303, headers=_NO_STORE)
        session_id = sessions.establish(response, sign_in)
        log.info(
            "signin_completed",
            issuer=sign_in.issuer,
            subject=sign_in.subject,
            session=session_id,
            groups=len(sign_in.groups),
        )
        return response

    @router.get("/logout")
    async def logout_page(
        request: Request, rd: Annotated[str, Query(max_length=MAX_PARAM)] = ""
    ) -> Response:
        viewer = await viewers.viewer(request)
        if viewer is None:
            return signed_out_page(pages, continue_url=safe(rd) or None)
        page = pages.render(
            "signout.html",
            viewer=viewer,
            rd=safe(rd),
            provider=relying_party is not None,
        )
        if relying_party is not None:
            try:
                end_session = (await relying_party.metadata()).end_session_endpoint
            except SignInError:
                end_session = None  # POST /logout will not send the browser there either
            csp = csp_allowing_form_redirect_to(end_session)
            if csp is not None:
                page.headers[_CSP] = csp
        return page

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        viewer = await viewers.viewer(request)
        if viewer is not None:
            form = await read_post(request, viewer)
        else:
            # Nobody to sign out; still only a post from our own pages may clear the cookie.
            headers = {k.lower(): v for k, v in request.headers.items()}
            if not same_origin_post(headers, public_origin=origin_of(public_url)):
                raise CsrfError("cross-site post")
            form = await read_form(request)
        target = safe(form.get("rd", ""))
        end_url = None
        if relying_party is not None:
            end_url = await relying_party.end_session_url(
                post_logout_redirect_uri=public_url + "/logout/done", state=target or None
            )
        response: Response
        if end_url is not None:
            response = RedirectResponse(end_url, status_code=303, headers=_NO_STORE)
        elif target:
            response = RedirectResponse(target, status_code=303, headers=_NO_STORE)
        else:
            response = signed_out_page(pages)
        if sessions is not None:
            await sessions.end(request, response)
        log.info("signed_out", had_session=viewer is not None, at_provider=end_url is not None)
        return response

    @router.get("/logout/done")
    async def logout_done(state: Annotated[str, Query(max_length=MAX_PARAM)] = "") -> Response:
        target = safe(state)
        if target:
            return RedirectResponse(target, status_code=303, headers=_NO_STORE)
        return signed_out_page(pages)

    return router
