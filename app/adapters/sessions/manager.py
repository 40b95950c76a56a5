"""Starts and ends Countersign sessions: the cookie, the signed token, the deny-list.

`SessionManager` implements contract.Sessions for the sign-in flows (OIDC, dev login) and is
the Authenticator's session guard: a verified token of our own session issuer is refused when
its session was signed out or its person's sessions were ended.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.adapters.identity.errors import IdentityError, TokenProblem
from app.adapters.sessions.contract import SignIn
from app.adapters.sessions.keys import SessionKeys
from app.adapters.sessions.revocations import SessionRevocations
from app.adapters.sessions.tokens import new_session_id, session_claims, session_facts
from app.config.sessions import SessionSettings
from app.core.approvals.codec import encode_time
from app.core.approvals.person import Person
from app.core.context import Identity

Verify = Callable[[str], Awaitable[Identity]]


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    """How the session cookie is set: COOKIE_NAME, COOKIE_DOMAIN, Secure behind https."""

    name: str
    domain: str | None
    secure: bool

    @classmethod
    def from_settings(cls, settings: SessionSettings, *, name: str, secure: bool) -> CookiePolicy:
        """From COOKIE_DOMAIN, the cookie `name` (COOKIE_NAME, where tokens are read) and
        whether PUBLIC_URL is https."""
        return cls(name, settings.cookie_domain, secure)


class SessionManager:
    """Implements contract.Sessions; also the session guard of the Authenticator."""

    def __init__(
        self,
        *,
        keys: SessionKeys,
        revocations: SessionRevocations,
        issuer: str,
        cookie: CookiePolicy,
        ttl: timedelta,
        leeway: float,
        verify: Verify,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._revocations = revocations
        self.issuer = issuer
        self._cookie = cookie
        self._ttl = int(ttl.total_seconds())
        self._leeway = leeway
        self._verify = verify
        self._clock = clock

    def establish(
        self, response: Response, sign_in: SignIn, *, claims: Mapping[str, Any] | None = None
    ) -> str:
        """Set the session cookie for `sign_in` on `response`; return the session id.

        `claims` are extra claims to carry (device posture, country, name); they never
        override the session's own.
        """
        sid = new_session_id()
        token = self.issue(sign_in, sid=sid, claims=claims)
        response.set_cookie(
            self._cookie.name,
            token,
            max_age=self._ttl,
            path="/",
            domain=self._cookie.domain,
            secure=self._cookie.secure,
            httponly=True,
            samesite="lax",
        )
        return sid

    def issue(self, sign_in: SignIn, *, sid: str, claims: Mapping[str, Any] | None = None) -> str:
        """The signed session token (no cookie)."""
        body = session_claims(
            sign_in,
            issuer=self.issuer,
            sid=sid,
            now=self._clock(),
            ttl_seconds=self._ttl,
            extra=claims,
        )
        return self._keys.sign(body)

    async def end(self, request: Request, response: Response) -> None:
        """Deny the session the request's cookie carries (if it is a valid one of ours) on every
        replica until it would have expired, and clear the cookie either way."""
        token = request.cookies.get(self._cookie.name)
        self.clear(response)
        if not token:
            return
        try:
            identity = await self._verify(token)
        except IdentityError:
            return  # expired, forged or not ours: nothing to deny
        facts = session_facts(identity) if self.covers(identity) else None
        if facts is None:
            return
        await self._revocations.deny(facts.sid, until=facts.expires_at + self._leeway)

    def clear(self, response: Response) -> None:
        """Expire the session cookie in the browser."""
        response.delete_cookie(
            self._cookie.name,
            path="/",
            domain=self._cookie.domain,
            secure=self._cookie.secure,
            httponly=True,
            samesite="lax",
        )

    async def end_all(self, person: Person, *, actor: str) -> datetime:
        """End every session of `person` issued until now, on every replica; audited.
        Returns the not-before time."""
        at = self._clock()
        moment = datetime.fromtimestamp(at, UTC)
        event = {
            "type": "sessions_revoked",
            "at": encode_time(moment),
            "application": "",
            "user": person.subject,
            "actor": actor,
            "request_id": None,
            "grant_id": None,
            "data": {"issuer": person.issuer, "subject": person.subject},
        }
        await self._revocations.revoke_person(
            person, at=at, until=at + self._ttl + self._leeway, audit_event=event
        )
        return moment

    # -- the Authenticator's session guard ------------------------------------------------
    def covers(self, identity: Identity) -> bool:
        """Whether the identity came from one of our sessions (not a provider's token)."""
        return identity.claims.get("iss") == self.issuer

    async def refusal(self, identity: Identity) -> TokenProblem | None:
        """Why a verified session may not be used now, or None."""
        facts = session_facts(identity)
        if facts is None:
            return TokenProblem.MALFORMED
        return await self._revocations.refusal(
            sid=facts.sid, person=facts.person, issued_at=facts.issued_at
        )
