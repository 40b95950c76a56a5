"""Where an issuer's keys come from: a static key, or a JWKS URL fetched, cached and refreshed.

A JWKS is refetched when it is older than the cache TTL, or sooner when a token names a `kid`
we do not hold, but never more than once per refresh interval, and concurrent misses share one
fetch. A failed or junk answer never replaces keys we already have: while the IdP is down,
tokens keep verifying against the cached keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Protocol

import httpx
import structlog

from app.adapters.http_errors import cause
from app.adapters.identity.fetch import download
from app.adapters.identity.keys import VerificationKey, keys_from_jwks
from app.adapters.identity.single_flight import SingleFlight

log = structlog.get_logger("countersign.identity")

#: The callback told of every JWKS fetch: (issuer, succeeded).
RefreshHook = Callable[[str, bool], None]
MAX_JWKS_BYTES = 512 * 1024


class KeySource(Protocol):
    """The keys of one issuer."""

    def current(self) -> tuple[VerificationKey, ...]:
        """The keys held now (possibly none)."""
        ...

    async def ensure_fresh(self) -> None:
        """Fetch if nothing is held yet or the keys are older than their TTL (rate-limited)."""
        ...

    async def refresh_for_miss(self) -> bool:
        """A token needs a key we lack: refetch if the rate limit allows; True if it did."""
        ...


class StaticKeys:
    """Keys fixed at start-up (a PEM file, or the dev issuer's own key)."""

    def __init__(self, keys: Sequence[VerificationKey]) -> None:
        self._keys = tuple(keys)

    def current(self) -> tuple[VerificationKey, ...]:
        """The configured keys."""
        return self._keys

    async def ensure_fresh(self) -> None:
        """Nothing to fetch."""

    async def refresh_for_miss(self) -> bool:
        """Static keys never change."""
        return False


class JwksKeys:
    """Keys from a JWKS URL, fetched with httpx and kept through outages."""

    def __init__(
        self,
        url: str,
        *,
        issuer: str,
        client: httpx.AsyncClient,
        clock: Callable[[], float],
        cache_ttl: float,
        refresh_interval: float,
        on_refresh: RefreshHook | None = None,
    ) -> None:
        self.url = url
        self.issuer = issuer
        self._client = client
        self._clock = clock
        self._cache_ttl = cache_ttl
        self._interval = refresh_interval
        self._on_refresh = on_refresh
        self._keys: tuple[VerificationKey, ...] = ()
        self._fetched_at: float | None = None
        self._missed_at: float | None = None
        self._flight = SingleFlight(self._fetch, clock=clock)
        #: Fetch attempts made, for metrics and tests.
        self.fetches = 0

    def current(self) -> tuple[VerificationKey, ...]:
        """The last good keys."""
        return self._keys

    async def ensure_fresh(self) -> None:
        """Fetch when nothing is held or the keys passed their TTL; a failing IdP is retried
        at most once per refresh interval."""
        now = self._clock()
        if self._fetched_at is not None and now - self._fetched_at < self._cache_ttl:
            return
        flight = self._flight
        if not flight.running and not _elapsed(flight.attempted_at, now, self._interval):
            return
        await self._flight.run()

    async def refresh_for_miss(self) -> bool:
        """Refetch for an unknown kid unless a miss already did within the refresh interval.

        Misses keep their own clock: a key rotated in just after a routine fetch is still
        picked up at once, and misses alone can never fetch more than once per interval.
        """
        now = self._clock()
        if not self._flight.running and not _elapsed(self._missed_at, now, self._interval):
            return False
        self._missed_at = now
        await self._flight.run()
        return True

    async def _fetch(self) -> None:
        self.fetches += 1
        try:
            keys = keys_from_jwks(json.loads(await self._download()))
        except (httpx.HTTPError, ValueError) as error:
            # ValueError covers bad JSON and KeyMaterialError (a JWKS with no usable key).
            log.warning(
                "jwks_refresh_failed",
                issuer=self.issuer,
                url=self.url,
                problem=cause(error),
                keeping=len(self._keys),
            )
            self._report(ok=False)
            return
        added = {k.kid for k in keys} - {k.kid for k in self._keys}
        self._keys = keys
        self._fetched_at = self._clock()
        log.info("jwks_refreshed", issuer=self.issuer, keys=len(keys), new=len(added))
        self._report(ok=True)

    async def _download(self) -> bytes:
        return await download(self._client, self.url, limit=MAX_JWKS_BYTES)

    def _report(self, *, ok: bool) -> None:
        if self._on_refresh is not None:
            self._on_refresh(self.issuer, ok)


def _elapsed(since: float | None, now: float, interval: float) -> bool:
    return since is None or now - since >= interval
