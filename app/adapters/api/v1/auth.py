"""Who calls /api/v1: a person with their JWT, or a service token, alone or acting for a person.

- `Authorization: Bearer <JWT>` is verified by the same Authenticator as forward-auth (only that
  header: the API never reads the session cookie, so a browser cannot be made to call it).
- `Authorization: Bearer cst_...` is a service token. Only its SHA-256 is configured; the
  digest is compared in constant time against every configured token. A token acting for a
  person also sends that person's JWT in `X-Countersign-User-Token`.
- Admins are people in any of ADMIN_GROUPS.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Header, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.adapters.api.v1.problems import ProblemError
from app.adapters.identity.errors import TokenProblem
from app.config.service_tokens import ServiceTokenSettings
from app.core.context import Identity
from app.services.ports import Identify
from app.services.principal import Principal

SERVICE_TOKEN_PREFIX = "cst_"  # noqa: S105  (a marker, not a secret)
USER_TOKEN_HEADER = "X-Countersign-User-Token"  # noqa: S105  (a header name)
_MAX_TOKEN_CHARS = 65_536
_CHALLENGE = 'Bearer realm="countersign"'

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A person's JWT, or a service token (`cst_...`).",
)


@dataclass(frozen=True, slots=True)
class ServiceToken:
    """A configured service token: its name, scopes and the digest of its secret."""

    name: str
    scopes: frozenset[str]
    digest: bytes


class ServiceTokens:
    """The configured service tokens; finds the one a caller presented, if any."""

    def __init__(self, configured: Iterable[ServiceTokenSettings]) -> None:
        self._tokens = tuple(
            ServiceToken(t.name, t.scopes, bytes.fromhex(t.sha256)) for t in configured
        )

    def match(self, presented: str) -> ServiceToken | None:
        """The token whose digest matches; every configured digest is compared."""
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for token in self._tokens:
            if hmac.compare_digest(digest, token.digest):
                found = token
        return found


def unauthenticated(code: str, detail: str) -> ProblemError:
    """401 with the RFC 6750 challenge."""
    challenge = _CHALLENGE if code == "missing-token" else f'{_CHALLENGE}, error="invalid_token"'
    return ProblemError(401, code, detail, headers={"www-authenticate": challenge})


def authenticator(
    *, identify: Identify, tokens: ServiceTokens, admin_groups: Iterable[str]
) -> Callable[..., Awaitable[Principal]]:
    """The dependency that turns a request's credentials into a Principal, or raises 401."""
    admins = frozenset(admin_groups)

    def is_admin(identity: Identity | None) -> bool:
        return identity is not None and not identity.groups.isdisjoint(admins)

    async def person(token: str, *, code: str) -> Identity:
        identity, problem = await identify({"authorization": f"Bearer {token}"})
        if identity is not None:
            return identity
        if problem == TokenProblem.JWKS_UNAVAILABLE:
            raise ProblemError(
                503,
                "identity-provider-unavailable",
                "the token cannot be verified right now; try again",
                headers={"retry-after": "5"},
            )
        raise unauthenticated(code, f"the token was refused ({problem or 'unreadable'})")

    async def authenticate(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        user_token: Annotated[
            str | None,
            Header(
                alias=USER_TOKEN_HEADER,
                max_length=_MAX_TOKEN_CHARS,
                description="With a service token only: the JWT of the person it acts for.",
            ),
        ] = None,
    ) -> Principal:
        if credentials is None or not credentials.credentials.strip():
            raise unauthenticated("missing-token", "send Authorization: Bearer <token>")
        secret = credentials.credentials.strip()
        if len(secret) > _MAX_TOKEN_CHARS:
            raise unauthenticated("invalid-token", "the token is too large")
        if not secret.startswith(SERVICE_TOKEN_PREFIX):
            identity = await person(secret, code="invalid-token")
            return Principal(identity, is_admin=is_admin(identity))
        service = tokens.match(secret)
        if service is None:
            raise unauthenticated("invalid-token", "unknown service token")
        acting_for = None
        if user_token is not None and user_token.strip():
            acting_for = await person(user_token.strip(), code="invalid-user-token")
        return Principal(
            acting_for,
            token=service.name,
            scopes=service.scopes,
            is_admin=is_admin(acting_for),
        )

    return authenticate


def require_admin(principal: Principal) -> None:
    """Admin-only endpoints: a person in ADMIN_GROUPS with their own token. No scope covers
    them, so a service token is refused even when it acts for an admin."""
    if principal.token is not None or not principal.is_admin:
        raise ProblemError(403, "admin-only", "only Countersign admins may do this")


def require_audit_reader(principal: Principal) -> None:
    """The audit log: service tokens with the audit:read scope, and admins."""
    if principal.token is not None:
        principal.require("audit:read")
        return
    require_admin(principal)
