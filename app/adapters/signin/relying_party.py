"""The OpenID Connect relying party: the authorization URL (code flow, PKCE S256, nonce) and the
callback's work (code exchange, ID token checks, groups), ending in a `SignIn` or a
`SignInError`.

Authlib's httpx client builds the authorization URL and exchanges the code. The ID token is
verified by the project's own `JwtVerifier` with one trusted issuer (the provider, audience =
client id, the configured algorithm allowlist, keys from the discovered JWKS); then `azp`,
`nonce`, `at_hash`, and for step-up sign-ins `auth_time` and `acr` are checked here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from app.adapters.http_errors import cause
from app.adapters.identity.claims import identity_from_claims
from app.adapters.identity.compact import parse_compact
from app.adapters.identity.errors import IdentityError
from app.adapters.identity.key_sources import RefreshHook
from app.adapters.identity.verifier import JwtVerifier, TrustedIssuer
from app.adapters.sessions.contract import SignIn
from app.adapters.signin.discovery import (
    DiscoveredKeys,
    Discovery,
    ProviderMetadata,
    ProviderUnavailableError,
)
from app.adapters.signin.errors import SignInError, SignInProblem
from app.adapters.signin.flows import PendingSignIn
from app.config.issuers import ClaimNames
from app.config.sessions import OidcSettings
from app.core.context import Identity

with warnings.catch_warnings():
    # Authlib 1.9 prefers the `httpx2` fork and warns once, at import, when it falls back to
    # httpx, which is what every other client of this service uses. Pinned in constraints.txt.
    # authlib.deprecate installs an "always" filter of its own when imported: import it first,
    # so the filter below comes before it (catch_warnings drops both on the way out).
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.filterwarnings(
        "ignore", message="The httpx module is deprecated", category=AuthlibDeprecationWarning
    )
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

PROVIDER_TIMEOUT = httpx.Timeout(5.0)
MAX_USERINFO_BYTES = 64 * 1024
#: The provider's errors that mean "try again later" rather than "no".
_PROVIDER_TROUBLE_ERRORS = frozenset({"server_error", "temporarily_unavailable"})
#: Hash of `at_hash` by the ID token's algorithm (OpenID Connect Core §3.1.3.6; EdDSA over
#: Ed25519 uses SHA-512).
_AT_HASH = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


def provider_error_problem(error: str) -> SignInProblem:
    """The problem for an `error=` the provider sent to the callback."""
    if error in _PROVIDER_TROUBLE_ERRORS:
        return SignInProblem.PROVIDER_FAILED
    return SignInProblem.PROVIDER_REFUSED


class RelyingParty:
    """One provider, one client registration; shared by every request of a process."""

    def __init__(
        self,
        settings: OidcSettings,
        *,
        redirect_uri: str,
        discovery: Discovery,
        verifier: JwtVerifier,
        oauth: AsyncOAuth2Client,
        http: httpx.AsyncClient,
        claims: ClaimNames,
        clock: Callable[[], float] = time.time,
        leeway: float = 30.0,
    ) -> None:
        self.settings = settings
        self._claims = claims
        self.redirect_uri = redirect_uri
        self.discovery = discovery
        self._verifier = verifier
        self._oauth = oauth
        self._http = http
        self._clock = clock
        self._leeway = leeway

    @classmethod
    def build(
        cls,
        settings: OidcSettings,
        *,
        public_url: str,
        claims: ClaimNames,
        leeway: float,
        jwks_cache_ttl: float,
        jwks_refresh_interval: float,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
        on_jwks_refresh: RefreshHook | None = None,
    ) -> RelyingParty:
        """The relying party with its own HTTP clients (closed by `aclose`): Authlib's for the
        code exchange, a plain one for discovery, keys and userinfo."""
        http = httpx.AsyncClient(
            timeout=PROVIDER_TIMEOUT, follow_redirects=False, transport=transport
        )
        oauth = AsyncOAuth2Client(
            client_id=settings.client_id,
            client_secret=(
                settings.client_secret.get_secret_value() if settings.client_secret else None
            ),
            token_endpoint_auth_method=(
                "client_secret_basic" if settings.client_secret else "none"
            ),
            scope=" ".join(settings.scopes),
            redirect_uri=public_url.rstrip("/") + "/login/callback",
            code_challenge_method="S256",
            timeout=PROVIDER_TIMEOUT,
            follow_redirects=False,
            transport=transport,
        )
        discovery = Discovery(
            settings.issuer,
            client=http,
            clock=clock,
            cache_ttl=jwks_cache_ttl,
            retry_interval=jwks_refresh_interval,
        )
        keys = DiscoveredKeys(
            discovery,
            client=http,
            clock=clock,
            cache_ttl=jwks_cache_ttl,
            refresh_interval=jwks_refresh_interval,
            on_refresh=on_jwks_refresh,
        )
        provider = TrustedIssuer(
            issuer=settings.issuer,
            audiences=frozenset({settings.client_id}),
            algorithms=frozenset(settings.algorithms),
            claims=claims.model_copy(update={"groups": settings.groups_claim}),
            keys=keys,
        )
        # ID tokens are used once: nothing to gain from remembering them.
        verifier = JwtVerifier([provider], clock=clock, leeway=leeway, token_cache_size=0)
        return cls(
            settings,
            redirect_uri=public_url.rstrip("/") + "/login/callback",
            discovery=discovery,
            verifier=verifier,
            oauth=oauth,
            http=http,
            claims=provider.claims,
            clock=clock,
            leeway=leeway,
        )

    async def warm(self) -> None:
        """Fetch the discovery document and keys now; failures are logged, not raised."""
        await self._verifier.warm()

    def key_status(self) -> dict[str, bool]:
        """Whether the provider's keys (and so its discovery document) are held."""
        return self._verifier.key_status()

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        await self._oauth.aclose()
        await self._http.aclose()

    async def metadata(self) -> ProviderMetadata:
        """The discovery document; SignInError(provider-unavailable) without one."""
        try:
            return await self.discovery.metadata()
        except ProviderUnavailableError:
            raise SignInError(SignInProblem.PROVIDER_UNAVAILABLE, "discovery") from None

    async def authorization_url(self, *, state: str, pending: PendingSignIn) -> str:
        """Where to send the browser to sign in at the provider."""
        metadata = await self.metadata()
        extra: dict[str, str] = {"nonce": pending.nonce}
        if pending.prompt is not None:
            extra["prompt"] = pending.prompt
        if pending.max_age is not None:
            extra["max_age"] = str(pending.max_age)
        if pending.mfa and self.settings.acr_values:
            extra["acr_values"] = self.settings.acr_values
        url, _state = self._oauth.create_authorization_url(
            metadata.authorization_endpoint,
            state=state,
            code_verifier=pending.code_verifier,
            **extra,
        )
        return str(url)

    async def end_session_url(
        self, *, post_logout_redirect_uri: str, state: str | None
    ) -> str | None:
        """RP-initiated logout at the provider, when its document names an end-session
        endpoint (a document fetched before; a provider that is down is not waited for)."""
        metadata = self.discovery.cached()
        if metadata is None or metadata.end_session_endpoint is None:
            return None
        params = {
            "client_id": self.settings.client_id,
            "post_logout_redirect_uri": post_logout_redirect_uri,
        }
        if state:
            params["state"] = state
        query = httpx.QueryParams(params)
        joiner = "&" if "?" in metadata.end_session_endpoint else "?"
        return f"{metadata.end_session_endpoint}{joiner}{query}"

    async def complete(self, *, code: str, pending: PendingSignIn) -> SignIn:
        """Exchange `code` and check everything; the person, or SignInError."""
        metadata = await self.metadata()
        token = await self._exchange(metadata, code=code, pending=pending)
        id_token = token.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise SignInError(SignInProblem.ID_TOKEN_MISSING)
        try:
            identity = await self._verifier.verify(id_token)
            alg = parse_compact(id_token).alg
        except IdentityError as error:
            raise SignInError(SignInProblem.ID_TOKEN_INVALID, error.reason.value) from None
        claims = identity.claims
        self._check_azp(claims)
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not _same(nonce, pending.nonce):
            raise SignInError(SignInProblem.NONCE_MISMATCH)
        access_token = token.get("access_token")
        self._check_at_hash(claims, alg=alg, access_token=access_token)
        auth_time = self._check_freshness(claims, pending)
        self._check_acr(claims, pending)
        if self.settings.groups_from == "userinfo":
            identity = await self._with_userinfo(identity, metadata, access_token)
        return SignIn(
            issuer=identity.issuer,
            subject=identity.subject,
            email=identity.email,
            groups=identity.groups,
            amr=identity.amr,
            auth_time=auth_time,
        )

    async def _exchange(
        self, metadata: ProviderMetadata, *, code: str, pending: PendingSignIn
    ) -> Mapping[str, Any]:
        try:
            token = await self._oauth.fetch_token(
                metadata.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.code_verifier,
                redirect_uri=self.redirect_uri,
            )
        except OAuthError as error:
            name = str(error.error or "")[:64]
            if name == "invalid_grant":
                raise SignInError(SignInProblem.CODE_REJECTED, name) from None
            raise SignInError(SignInProblem.PROVIDER_FAILED, name or None) from None
        except (httpx.TransportError, httpx.TimeoutException) as error:
            raise SignInError(SignInProblem.PROVIDER_UNAVAILABLE, cause(error)) from None
        except (httpx.HTTPError, ValueError) as error:
            raise SignInError(SignInProblem.PROVIDER_BAD_ANSWER, cause(error)) from None
        if not isinstance(token, Mapping):
            raise SignInError(SignInProblem.PROVIDER_BAD_ANSWER, "token")
        return token

    def _check_azp(self, claims: Mapping[str, Any]) -> None:
        """OpenID Connect Core §3.1.3.7: with several audiences, `azp` must name us."""
        aud = claims.get("aud")
        azp = claims.get("azp")
        several = isinstance(aud, list | tuple) and len(aud) > 1
        if (several or azp is not None) and azp != self.settings.client_id:
            raise SignInError(SignInProblem.ID_TOKEN_INVALID, "azp")

    @staticmethod
    def _check_at_hash(claims: Mapping[str, Any], *, alg: str, access_token: object) -> None:
        given = claims.get("at_hash")
        if given is None:
            return
        if not isinstance(given, str) or not isinstance(access_token, str):
            raise SignInError(SignInProblem.AT_HASH_MISMATCH)
        if not _same(given, at_hash(access_token, alg)):
            raise SignInError(SignInProblem.AT_HASH_MISMATCH)

    def _check_freshness(self, claims: Mapping[str, Any], pending: PendingSignIn) -> int:
        """`auth_time` (0 when absent: unknown, so never fresh). A step-up that asked for a
        new authentication (`prompt=login`, `max_age`) must get one."""
        raw = claims.get("auth_time")
        known = False
        auth_time = 0
        if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
            known, auth_time = True, int(raw)
        if pending.prompt != "login" and pending.max_age is None:
            return auth_time
        if not known:
            raise SignInError(SignInProblem.AUTH_NOT_FRESH, "auth_time-missing")
        if pending.prompt == "login" and auth_time < pending.started_at - self._leeway:
            raise SignInError(SignInProblem.AUTH_NOT_FRESH, "prompt-login")
        if pending.max_age is not None and (
            self._clock() - auth_time > pending.max_age + self._leeway
        ):
            raise SignInError(SignInProblem.AUTH_NOT_FRESH, "max-age")
        return auth_time

    def _check_acr(self, claims: Mapping[str, Any], pending: PendingSignIn) -> None:
        """A step-up that asked for MFA (acr_values) must get one of the values asked for."""
        if not pending.mfa or not self.settings.acr_values:
            return
        if claims.get("acr") not in self.settings.acr_values.split():
            raise SignInError(SignInProblem.ACR_NOT_SATISFIED)

    async def _with_userinfo(
        self, identity: Identity, metadata: ProviderMetadata, access_token: object
    ) -> Identity:
        """Groups (and a missing email) from the userinfo endpoint, for the same `sub`."""
        if metadata.userinfo_endpoint is None or not isinstance(access_token, str):
            raise SignInError(SignInProblem.PROVIDER_BAD_ANSWER, "userinfo")
        try:
            response = await self._http.get(
                metadata.userinfo_endpoint,
                headers={"authorization": f"Bearer {access_token}", "accept": "application/json"},
            )
        except httpx.HTTPError as error:
            raise SignInError(
                SignInProblem.PROVIDER_UNAVAILABLE, f"userinfo: {cause(error)}"
            ) from None
        if response.status_code != 200 or len(response.content) > MAX_USERINFO_BYTES:
            raise SignInError(SignInProblem.PROVIDER_BAD_ANSWER, f"userinfo {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            raise SignInError(SignInProblem.PROVIDER_BAD_ANSWER, "userinfo") from None
        if not isinstance(document, dict):
            raise SignInError(SignInProblem.PROVIDER_BAD_ANSWER, "userinfo")
        if document.get("sub") != identity.subject:
            raise SignInError(SignInProblem.USERINFO_SUBJECT_MISMATCH)
        try:
            info = identity_from_claims(document, issuer=identity.issuer, names=self._claims)
        except IdentityError:
            raise SignInError(SignInProblem.PROVIDER_BAD_ANSWER, "userinfo") from None
        return Identity(
            subject=identity.subject,
            email=identity.email or info.email,
            groups=info.groups,
            amr=identity.amr,
            claims=identity.claims,
            issuer=identity.issuer,
        )


def at_hash(access_token: str, alg: str) -> str:
    """The left half of the hash of the access token, base64url without padding."""
    digest = _AT_HASH.get("512" if alg == "EdDSA" else alg[-3:], hashlib.sha256)
    full = digest(access_token.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(full[: len(full) // 2]).rstrip(b"=").decode("ascii")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(
        given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )
