"""X-Countersign-Assertion: a short-lived JWT on every allow answer, signed with Countersign's
own keys, naming one person for one application (`aud` = the application id), as Cloudflare
Access's `Cf-Access-Jwt-Assertion` and Pomerium's `X-Pomerium-Jwt-Assertion` do.

An application verifies who calls against /.well-known/jwks.json instead of trusting plain
headers, and a token taken from one application is refused by every other (its `aud`).
A signature costs far more than a decision, so the signed header is kept per exactly what it
says (idp, subject, email, groups, application) and reused until a quarter of its lifetime is
left; it is never served at or past its `exp`.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog

from app.adapters.forward_auth.answers import IdentityHeaders
from app.adapters.sessions.contract import Signer
from app.adapters.sessions.tokens import SESSION_AUDIENCE
from app.core.context import Identity
from app.core.decision import Decision, internal_error

ASSERTION_HEADER = b"x-countersign-assertion"
#: (person, application) pairs kept signed; a few hundred bytes each.
CACHE_SIZE = 10_000
#: Re-sign when less than this share of the lifetime is left, so an application that checks
#: `exp` (with its own clock and some transit time) never receives a nearly dead token.
RENEW_WHEN_LEFT = 0.25
#: Audiences of Countersign's own tokens, signed with the same keys and the same `iss`: an
#: application with such an id would receive a token Countersign itself accepts. Refused.
RESERVED_AUDIENCES = frozenset({SESSION_AUDIENCE})

Header = tuple[bytes, bytes]
#: Everything the assertion says about the person, and its audience: two identities with the
#: same key get the same claims, so sharing one signature between them is exact.
Key = tuple[str, str, str | None, frozenset[str], str]

log = structlog.get_logger("countersign.assertion")


class Assertions:
    """Signs and caches the assertion of each (person, application). One per process."""

    __slots__ = ("_clock", "_entries", "_issuer", "_signer", "_size", "_ttl", "signatures")

    def __init__(
        self,
        signer: Signer,
        *,
        issuer: str,
        ttl: timedelta,
        size: int = CACHE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl < timedelta(seconds=4):
            raise ValueError("the assertion lifetime must be at least 4 seconds")
        self._signer = signer
        self._issuer = issuer.rstrip("/")
        self._ttl = int(ttl.total_seconds())
        self._size = max(size, 1)
        self._clock = clock
        #: key -> (header, renew at): the wall-clock second after which it is signed again.
        self._entries: dict[Key, tuple[Header, float]] = {}
        #: Signatures made so far (tests and the benchmark read it).
        self.signatures = 0

    def header(self, identity: Identity, application: str) -> Header:
        """The `x-countersign-assertion` header for `identity` at `application`."""
        key = (identity.issuer, identity.subject, identity.email, identity.groups, application)
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and now < entry[1]:
            return entry[0]
        return self._sign(key, now)

    def attach(
        self, decision: Decision, identity: Identity | None, headers: IdentityHeaders
    ) -> tuple[Decision, IdentityHeaders]:
        """An allow answer's identity headers plus the assertion. Other answers, and an allow
        without a person (a bypass), are returned as they are. When signing fails the answer is
        the fail-closed internal-error deny: an allow never goes out without its assertion."""
        if not decision.allowed or identity is None or decision.application is None:
            return decision, headers
        try:
            header = self.header(identity, decision.application)
        except Exception as exc:  # any signer failure: fail closed, and say why
            log.error("assertion_failed", application=decision.application, problem=repr(exc)[:200])
            return internal_error(decision.application), ()
        return decision, (*headers, header)

    def claims(self, key: Key, now: float) -> dict[str, Any]:
        """The claims of a new assertion for `key`, issued at `now`."""
        idp, subject, email, groups, application = key
        issued = int(now)
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": application,
            "sub": subject,
            "idp": idp,
            "groups": sorted(groups),
            "iat": issued,
            "exp": issued + self._ttl,
            "jti": secrets.token_urlsafe(16),
        }
        if email is not None:
            claims["email"] = email
        return claims

    def _sign(self, key: Key, now: float) -> Header:
        if key[4] in RESERVED_AUDIENCES:
            raise ValueError(f"application id {key[4]!r} is the audience of Countersign's sessions")
        claims = self.claims(key, now)
        header = (ASSERTION_HEADER, self._signer.sign(claims).encode("ascii"))
        self.signatures += 1
        # `iat` is `now` rounded down, so renewal is reckoned from `exp`, not from `now`.
        renew_at = claims["exp"] - self._ttl * RENEW_WHEN_LEFT
        entries = self._entries
        entries.pop(key, None)  # re-inserted last: the oldest entries are evicted first
        if len(entries) >= self._size:
            self._evict(now)
        entries[key] = (header, renew_at)
        return header

    def _evict(self, now: float) -> None:
        """Drop every entry due for renewal; if that frees too little, the older half too."""
        entries = self._entries
        for stale in [k for k, (_, renew_at) in entries.items() if now >= renew_at]:
            del entries[stale]
        if len(entries) > self._size * 3 // 4:
            for old in list(itertools.islice(entries, len(entries) // 2 + 1)):
                del entries[old]

    def __len__(self) -> int:
        return len(self._entries)
