"""The dev login: pick a user from dev-users.yaml, get a Countersign session, made by the same
SessionManager as a real sign-in (the person's issuer is the dev issuer).

Login CSRF is refused with a double-submit pair: GET sets a random nonce in a SameSite=Strict
cookie and puts HMAC(key, nonce) in the form; POST needs both to match. The key derives from the
dev issuer key, so every worker process agrees. Forms are parsed here (bounded) rather than via
python-multipart. Everything shown is escaped.
"""

from __future__ import annotations

import hmac
import html
import secrets
import time
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app.adapters.dev.issuer import DevIssuer
from app.adapters.dev.users import DevUser, DevUsers, load_dev_users
from app.adapters.sessions.contract import SignIn
from app.adapters.sessions.manager import SessionManager
from app.config.issuers import ClaimNames
from app.config.settings import DevSettings, ServerSettings

CSRF_COOKIE = "countersign_dev_csrf"
MAX_FORM_BYTES = 8 * 1024
_PAGE_HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}


def dev_router(
    *,
    issuer: DevIssuer,
    server: ServerSettings,
    dev: DevSettings,
    claims: ClaimNames,
    is_safe_redirect: Callable[[str], bool],
    sessions: SessionManager,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """GET /dev/jwks.json, GET /dev/login, POST /dev/login. Mount only in dev mode."""
    router = APIRouter(prefix="/dev", include_in_schema=False)
    csrf_key = issuer.csrf_key()
    secure = server.public_is_https
    cookie_path = (urlsplit(server.public_url).path or "") + "/dev"

    def expected_csrf(nonce: str) -> str:
        return hmac.new(csrf_key, nonce.encode("ascii", "replace"), "sha256").hexdigest()

    @router.get("/jwks.json")
    async def jwks() -> JSONResponse:
        return JSONResponse(issuer.jwks(), headers={"cache-control": "max-age=60"})

    @router.get("/login")
    async def login_page(rd: Annotated[str, Query(max_length=4096)] = "") -> HTMLResponse:
        nonce = secrets.token_urlsafe(24)
        users = load_dev_users(dev.users)
        body = render_page(users, rd=rd, csrf=expected_csrf(nonce), issuer=issuer.issuer)
        response = HTMLResponse(body, headers=_PAGE_HEADERS)
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            max_age=3600,
            path=cookie_path,
            secure=secure,
            httponly=True,
            samesite="strict",
        )
        return response

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await _read_form(request)
        if isinstance(form, Response):
            return form
        nonce = request.cookies.get(CSRF_COOKIE, "")
        given = form.get("csrf", "")
        if not nonce or not hmac.compare_digest(given.encode(), expected_csrf(nonce).encode()):
            return _text(403, "The sign-in form expired or came from another site. Reload it.")
        user = load_dev_users(dev.users).find(form.get("email", ""))
        if user is None:
            return _text(400, "No such user in the dev users file.")
        rd = form.get("rd", "")
        target = rd if rd and is_safe_redirect(rd) else server.public_url + "/"
        response = RedirectResponse(target, status_code=303, headers={"cache-control": "no-store"})
        sessions.establish(
            response,
            sign_in_of(user, issuer=issuer.issuer, now=clock()),
            claims=_posture(user, names=claims),
        )
        response.delete_cookie(CSRF_COOKIE, path=cookie_path, secure=secure, httponly=True)
        return response

    return router


def sign_in_of(user: DevUser, *, issuer: str, now: float) -> SignIn:
    """The dev user as the dev issuer vouches for them (subject = e-mail, as `token mint`)."""
    return SignIn(
        issuer=issuer,
        subject=user.email.lower(),
        email=user.email.lower(),
        groups=frozenset(user.groups),
        amr=frozenset(user.amr),
        auth_time=int(now),
    )


def _posture(user: DevUser, *, names: ClaimNames) -> dict[str, Any]:
    """What else the dev token used to say: display name, device posture, country."""
    claims: dict[str, Any] = {}
    if user.name:
        claims["name"] = user.name
    if user.device_managed is not None or user.device_tags:
        claims[names.device_managed] = bool(user.device_managed)
        claims[names.device_tags] = list(user.device_tags)
    if user.country:
        claims["country"] = user.country
    return claims


async def _read_form(request: Request) -> dict[str, str] | Response:
    """A urlencoded body of at most MAX_FORM_BYTES, each field given at most once."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return _text(415, "Send the form as application/x-www-form-urlencoded.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return _text(413, "The form is too large.")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
        return _text(400, "The form could not be read.")
    if any(len(values) != 1 for values in fields.values()):
        return _text(400, "A form field was repeated.")
    return {name: values[0] for name, values in fields.items()}


def _text(status: int, message: str) -> Response:
    return Response(
        message + "\n", status_code=status, media_type="text/plain", headers=_PAGE_HEADERS
    )


def _user_card(user: DevUser, *, rd: str, csrf: str) -> str:
    e = html.escape
    device = "managed" if user.device_managed else "unmanaged"
    if user.device_tags:
        device += " (" + ", ".join(user.device_tags) + ")"
    facts = [
        ("groups", ", ".join(user.groups) or "none"),
        ("auth methods", ", ".join(user.amr) or "none"),
        ("device", device),
        ("country", user.country or "unknown"),
    ]
    rows = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts)
    return (
        '<form method="post" action="login" class="user">'
        f'<input type="hidden" name="email" value="{e(user.email)}">'
        f'<input type="hidden" name="rd" value="{e(rd)}">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        f'<button type="submit">Sign in as <strong>{e(user.name or user.email)}</strong>'
        f"<br><small>{e(user.email)}</small></button><dl>{rows}</dl></form>"
    )


def render_page(users: DevUsers, *, rd: str, csrf: str, issuer: str) -> str:
    """The whole page; every value from outside is escaped."""
    e = html.escape
    cards = "".join(_user_card(user, rd=rd, csrf=csrf) for user in users.users)
    if not users.users:
        cards = "<p>No users to sign in as.</p>"
    problems = "".join(f"<li>{e(p)}</li>" for p in users.problems)
    problems_html = f'<ul class="problems">{problems}</ul>' if problems else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Countersign dev sign-in</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}
.banner{{background:#b00020;color:#fff;padding:.75rem 1rem;font-weight:bold}}
.user{{border:1px solid #ccc;padding:.75rem;margin:.75rem 0}}
.user button{{font-size:1rem;padding:.5rem 1rem;cursor:pointer;text-align:left}}
dl{{display:grid;grid-template-columns:8rem 1fr;margin:.5rem 0 0}}dd{{margin:0}}
.problems{{color:#b00020}}
</style></head><body>
<p class="banner">DEVELOPMENT MODE: anyone can sign in as anyone. Never use this in production.</p>
<h1>Sign in (dev)</h1>
<p>Sessions name the dev issuer <code>{e(issuer)}</code> as the person's issuer.</p>
{problems_html}{cards}
</body></html>
"""
