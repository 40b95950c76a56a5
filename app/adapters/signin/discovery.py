"""The provider's discovery document (`{issuer}/.well-known/openid-configuration`) and the keys
it points at.

The document is fetched with httpx, kept for the cache TTL and, once it is due or missing,
fetched again at most once per retry interval (concurrent callers share one fetch); a failed
or junk answer never replaces a good document. Its `issuer` must equal the configured one
character for character (OpenID Connect Discovery §4.3), and every endpoint must be https
(http only on loopback), so a document cannot send codes or keys somewhere in the clear.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from app.adapters.http_errors import cause
from app.adapters.identity.fetch import download
from app.adapters.identity.key_sources import JwksKeys, RefreshHook
from app.adapters.identity.keys import VerificationKey
from app.adapters.identity.single_flight import SingleFlight

log = structlog.get_logger("countersign.signin")

MAX_DOCUMENT_BYTES = 256 * 1024
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class ProviderUnavailableError(Exception):
    """No usable discovery document: the provider is down or answers junk."""


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """What Countersign uses of the discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None


def secure_url(url: str) -> bool:
    """An absolute https URL, or http to a loopback host."""
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS)


def parse_metadata(document: object, *, issuer: str) -> ProviderMetadata:
    """The metadata of a decoded document; ValueError naming the first problem."""
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    if document.get("issuer") != issuer:
        raise ValueError("issuer differs from the configured one")

    def endpoint(name: str, *, required: bool) -> str | None:
        value = document.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not secure_url(value):
            raise ValueError(f"{name} is missing or not an https URL")
        return value

    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=str(endpoint("authorization_endpoint", required=True)),
        token_endpoint=str(endpoint("token_endpoint", required=True)),
        jwks_uri=str(endpoint("jwks_uri", required=True)),
        userinfo_endpoint=endpoint("userinfo_endpoint", required=False),
        end_session_endpoint=endpoint("end_session_endpoint", required=False),
    )


class Discovery:
    """The provider's metadata, fetched on first use and kept through outages."""

    def __init__(
        self,
        issuer: str,
        *,
        client: httpx.AsyncClient,
        clock: Callable[[], float],
        cache_ttl: float,
        retry_interval: float,
    ) -> None:
        self.issuer = issuer
        self.url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        self._client = client
        self._clock = clock
        self._cache_ttl = cache_ttl
        self._interval = retry_interval
        self._metadata: ProviderMetadata | None = None
        self._fetched_at: float | None = None
        self._flight = SingleFlight(self._fetch, clock=clock)
        #: Fetch attempts made, for tests.
        self.fetches = 0

    def cached(self) -> ProviderMetadata | None:
        """The last good document, without fetching."""
        return self._metadata

    async def metadata(self) -> ProviderMetadata:
        """The document; fetched when missing or stale (rate-limited). Raises
        ProviderUnavailableError only when no good document was ever had."""
        now = self._clock()
        fresh = self._fetched_at is not None and now - self._fetched_at < self._cache_ttl
        attempted = self._flight.attempted_at
        may_try = attempted is None or now - attempted >= self._interval
        if not fresh and (may_try or self._flight.running):
            await self._flight.run()
        if self._metadata is None:
            raise ProviderUnavailableError(self.url)
        return self._metadata

    async def _fetch(self) -> None:
        self.fetches += 1
        try:
            metadata = parse_metadata(json.loads(await self._download()), issuer=self.issuer)
        except (httpx.HTTPError, ValueError) as error:
            log.warning(
                "oidc_discovery_failed",
                issuer=self.issuer,
                problem=cause(error),
                keeping=self._metadata is not None,
            )
            return
        self._metadata = metadata
        self._fetched_at = self._clock()
        log.info("oidc_discovery_refreshed", issuer=self.issuer)

    async def _download(self) -> bytes:
        return await download(self._client, self.url, limit=MAX_DOCUMENT_BYTES)


class DiscoveredKeys:
    """The provider's keys as a KeySource of the verifier: the JWKS at the discovered
    `jwks_uri`, with all of JwksKeys' caching and rate limits."""

    def __init__(
        self,
        discovery: Discovery,
        *,
        client: httpx.AsyncClient,
        clock: Callable[[], float],
        cache_ttl: float,
        refresh_interval: float,
        on_refresh: RefreshHook | None = None,
    ) -> None:
        self._discovery = discovery
        self._options: dict[str, Any] = {
            "issuer": discovery.issuer,
            "client": client,
            "clock": clock,
            "cache_ttl": cache_ttl,
            "refresh_interval": refresh_interval,
            "on_refresh": on_refresh,
        }
        self._jwks: JwksKeys | None = None

    def current(self) -> tuple[VerificationKey, ...]:
        """The keys held now (none before the first fetch)."""
        return self._jwks.current() if self._jwks is not None else ()

    async def ensure_fresh(self) -> None:
        """Discover the JWKS URL if needed, then fetch keys when due."""
        jwks = await self._source()
        if jwks is not None:
            await jwks.ensure_fresh()

    async def refresh_for_miss(self) -> bool:
        """An unknown key: refetch the JWKS if its rate limit allows."""
        jwks = await self._source()
        return jwks is not None and await jwks.refresh_for_miss()

    async def _source(self) -> JwksKeys | None:
        try:
            metadata = await self._discovery.metadata()
        except ProviderUnavailableError:
            return self._jwks
        if self._jwks is None or self._jwks.url != metadata.jwks_uri:
            self._jwks = JwksKeys(metadata.jwks_uri, **self._options)
        return self._jwks
