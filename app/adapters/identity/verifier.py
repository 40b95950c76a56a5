"""Verify JWTs from the configured issuers into Identities, with a bounded cache of results.

Order of checks: size, syntax, algorithm (never `none` or HS*), issuer (routed by the unverified
`iss`), that issuer's algorithm allowlist — all before any key is touched — then signature,
then exp/nbf/iat/aud with one leeway (python-jose never checks `iat`; one in the future is
refused). Only a token that passed everything is cached, keyed by its SHA-256.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.adapters.identity.claims import (
    check_audience,
    check_times,
    identity_from_claims,
    person_issuer,
)
from app.adapters.identity.compact import CompactToken, parse_compact
from app.adapters.identity.errors import IdentityError, TokenProblem
from app.adapters.identity.key_sources import JwksKeys, KeySource, RefreshHook, StaticKeys
from app.adapters.identity.keys import KeyMaterialError, VerificationKey, load_key_file
from app.config import SettingsError
from app.config.issuers import SUPPORTED_ALGORITHMS, ClaimNames, IssuerSettings
from app.config.settings import IdentitySettings
from app.core.context import Identity

Clock = Callable[[], float]
JWKS_TIMEOUT = httpx.Timeout(2.0)
#: A token is tried against at most this many keys (bounds the work one token can cause).
MAX_KEYS_TRIED = 8


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """One issuer we accept tokens from, and how to get its keys."""

    issuer: str
    audiences: frozenset[str]
    algorithms: frozenset[str]
    claims: ClaimNames
    keys: KeySource
    #: For an issuer that vouches for people another issuer authenticated (Countersign's own
    #: sessions): the claim naming that issuer, which becomes the Identity's issuer, so the
    #: person `(issuer, subject)` is the same with the session as with the provider's token.
    person_issuer_claim: str | None = None


def _static_keys(path: Path, origin: str) -> StaticKeys:
    """An issuer's PEM key file; a bad one raises SettingsError naming where it was set."""
    try:
        return StaticKeys([load_key_file(path)])
    except KeyMaterialError as error:
        raise SettingsError((origin, f"{path} {error}")) from None


def _trusted(config: IssuerSettings, keys: KeySource) -> TrustedIssuer:
    return TrustedIssuer(
        issuer=config.issuer,
        audiences=frozenset(config.audiences),
        algorithms=frozenset(config.algorithms),
        claims=config.claims,
        keys=keys,
    )


class TokenCache:
    """Verified tokens by SHA-256, LRU-bounded; an entry lives until its own deadline."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, tuple[Identity, float]] = OrderedDict()

    def get(self, digest: bytes, now: float) -> Identity | None:
        """The identity, or None when absent or past its deadline (then it is dropped)."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        identity, deadline = entry
        if now >= deadline:
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return identity

    def put(self, digest: bytes, identity: Identity, deadline: float) -> None:
        """Remember; evicts the least recently used entry beyond the bound."""
        if self._size <= 0:
            return
        self._entries[digest] = (identity, deadline)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class JwtVerifier:
    """Turns a token into an Identity or an IdentityError with a TokenProblem code."""

    def __init__(
        self,
        issuers: Iterable[TrustedIssuer],
        *,
        clock: Clock = time.time,
        leeway: float = 30.0,
        token_cache_size: int = 10_000,
        token_cache_ttl: float = 300.0,
        max_token_bytes: int = 16_384,
        owned_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._issuers = {entry.issuer: entry for entry in issuers}
        self._warming: asyncio.Task[None] | None = None
        self._clock = clock
        self._leeway = leeway
        self._cache = TokenCache(token_cache_size)
        self._cache_ttl = token_cache_ttl
        self._max_token_bytes = max_token_bytes
        self._owned_client = owned_client
        #: Counters for metrics and tests.
        self.cache_hits = 0
        self.signature_checks = 0

    @classmethod
    def from_settings(
        cls,
        settings: IdentitySettings,
        *,
        clock: Clock = time.time,
        client: httpx.AsyncClient | None = None,
        extra_issuers: Sequence[TrustedIssuer] = (),
        on_jwks_refresh: RefreshHook | None = None,
    ) -> JwtVerifier:
        """The verifier for the configured issuers plus `extra_issuers` (the dev issuer).

        Without `client`, one is made (2 s timeout) and closed by `aclose()`. Raises
        SettingsError for a key file that cannot be used.
        """
        # Key files are read first, so a bad one fails before any client exists.
        static = {
            config.issuer: _static_keys(config.key_file, config.origin)
            for config in settings.issuers
            if config.key_file is not None
        }
        owned = None
        if client is None and len(static) < len(settings.issuers):
            client = owned = httpx.AsyncClient(timeout=JWKS_TIMEOUT, follow_redirects=False)

        def source(config: IssuerSettings) -> KeySource:
            if config.issuer in static or client is None:
                return static[config.issuer]
            return JwksKeys(
                str(config.jwks_url),
                issuer=config.issuer,
                client=client,
                clock=clock,
                cache_ttl=settings.jwks_cache_ttl.total_seconds(),
                refresh_interval=settings.jwks_refresh_interval.total_seconds(),
                on_refresh=on_jwks_refresh,
            )

        issuers = [_trusted(config, source(config)) for config in settings.issuers]
        return cls(
            [*issuers, *extra_issuers],
            clock=clock,
            leeway=settings.leeway.total_seconds(),
            token_cache_size=settings.token_cache_size,
            token_cache_ttl=settings.token_cache_ttl.total_seconds(),
            max_token_bytes=settings.max_token_bytes,
            owned_client=owned,
        )

    @property
    def issuers(self) -> tuple[str, ...]:
        """The issuers accepted, for start-up logs."""
        return tuple(self._issuers)

    async def aclose(self) -> None:
        """Close the HTTP client if this verifier made it."""
        if self._warming is not None and not self._warming.done():
            self._warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warming
        if self._owned_client is not None:
            await self._owned_client.aclose()

    async def warm(self) -> None:
        """Fetch every issuer's keys now (at start-up); failures are logged, not raised."""
        for entry in self._issuers.values():
            await entry.keys.ensure_fresh()

    def key_status(self) -> dict[str, bool]:
        """Whether each issuer has keys to verify with. When one has none, a fetch starts in
        the background (at most once per refresh interval), so a provider that was down at
        start-up makes the service ready as soon as it answers, and a probe never waits on it."""
        if any(not entry.keys.current() for entry in self._issuers.values()) and (
            self._warming is None or self._warming.done()
        ):
            self._warming = asyncio.get_running_loop().create_task(self.warm())
        return {issuer: bool(entry.keys.current()) for issuer, entry in self._issuers.items()}

    def cached(self, token: str) -> Identity | None:
        """The fast path: the identity of a token verified before and not yet expired."""
        if len(token) > self._max_token_bytes or not token.isascii():
            return None
        identity = self._cache.get(_digest(token), self._clock())
        if identity is not None:
            self.cache_hits += 1
        return identity

    async def verify(self, token: str) -> Identity:
        """The identity a token proves, or IdentityError(reason)."""
        if len(token) > self._max_token_bytes:
            raise IdentityError(TokenProblem.TOO_LARGE)
        if not token.isascii():
            raise IdentityError(TokenProblem.MALFORMED)
        digest = _digest(token)
        hit = self._cache.get(digest, self._clock())
        if hit is not None:
            self.cache_hits += 1
            return hit
        parsed = parse_compact(token)
        if parsed.alg not in SUPPORTED_ALGORITHMS:
            raise IdentityError(TokenProblem.ALG_NOT_ALLOWED)
        iss = parsed.claims.get("iss")
        entry = self._issuers.get(iss) if isinstance(iss, str) else None
        if entry is None:
            raise IdentityError(TokenProblem.ISSUER_UNKNOWN)
        if parsed.alg not in entry.algorithms:
            raise IdentityError(TokenProblem.ALG_NOT_ALLOWED)
        await self._check_signature(entry, parsed)
        now = self._clock()
        exp = check_times(parsed.claims, now=now, leeway=self._leeway)
        check_issued_at(parsed.claims, now=now, leeway=self._leeway)
        check_audience(parsed.claims, entry.audiences)
        issuer = entry.issuer
        if entry.person_issuer_claim is not None:
            issuer = person_issuer(parsed.claims, entry.person_issuer_claim)
        identity = identity_from_claims(parsed.claims, issuer=issuer, names=entry.claims)
        self._cache.put(digest, identity, min(exp, now + self._cache_ttl))
        return identity

    async def _check_signature(self, entry: TrustedIssuer, token: CompactToken) -> None:
        source = entry.keys
        await source.ensure_fresh()
        candidates = _candidates(source.current(), token)
        # With no keys at all, ensure_fresh has just tried (or is rate-limited): no second try.
        if not candidates and source.current() and await source.refresh_for_miss():
            candidates = _candidates(source.current(), token)
        if not candidates:
            if not source.current():
                raise IdentityError(TokenProblem.JWKS_UNAVAILABLE)
            raise IdentityError(TokenProblem.KEY_UNKNOWN)
        if self._any_verifies(candidates, token):
            return
        # A token without a kid may be signed by a key the IdP rotated in since our last fetch.
        if token.kid is None and await source.refresh_for_miss():
            candidates = _candidates(source.current(), token)
            if self._any_verifies(candidates, token):
                return
        raise IdentityError(TokenProblem.SIGNATURE_INVALID)

    def _any_verifies(self, keys: Sequence[VerificationKey], token: CompactToken) -> bool:
        for key in keys[:MAX_KEYS_TRIED]:
            self.signature_checks += 1
            if key.verify(token.alg, token.signing_input, token.signature):
                return True
        return False


def check_issued_at(claims: Mapping[str, Any], *, now: float, leeway: float) -> None:
    """`iat`, when present, must be a number no later than now plus the leeway."""
    if "iat" not in claims:
        return
    iat = claims["iat"]
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        raise IdentityError(TokenProblem.MALFORMED)
    if iat > now + leeway:
        raise IdentityError(TokenProblem.ISSUED_IN_FUTURE)


def _candidates(keys: Sequence[VerificationKey], token: CompactToken) -> list[VerificationKey]:
    """Keys with the token's kid; for a kid-less token (or a kid-less JWKS), every key that fits."""
    fitting = [key for key in keys if key.fits(token.alg)]
    if token.kid is None:
        return fitting
    named = [key for key in fitting if key.kid == token.kid]
    return named or [key for key in fitting if key.kid is None]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()
