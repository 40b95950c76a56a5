"""What the sign-in flows hand to Countersign's sessions, and what signs Countersign's own
tokens: the seams between the OIDC relying party, the dev login, the session store and the
per-application assertion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response


@dataclass(frozen=True, slots=True)
class SignIn:
    """A person the identity provider vouched for, as the session will carry them.

    `issuer` and `subject` are the provider's `iss` and `sub`: the person stays the same
    `(issuer, subject)` whether they come with a session or with the provider's own token.
    """

    issuer: str
    subject: str
    email: str | None
    groups: frozenset[str]
    amr: frozenset[str]
    #: When the person last authenticated at the provider (epoch seconds, `auth_time`).
    auth_time: int


class Sessions(Protocol):
    """Starts and ends Countersign sessions (cookie + deny-list)."""

    def establish(self, response: Response, sign_in: SignIn) -> str:
        """Set the session cookie for `sign_in` on `response`; return the session id."""
        ...

    async def end(self, request: Request, response: Response) -> None:
        """End the session `request` carries (if any) on every replica; clear the cookie."""
        ...


class Signer(Protocol):
    """Countersign's own signing keys (sessions and per-application assertions)."""

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A compact JWS over `claims`, with the current key's `kid` in the header."""
        ...

    def jwks(self) -> dict[str, Any]:
        """The public keys, as served at /.well-known/jwks.json."""
        ...
