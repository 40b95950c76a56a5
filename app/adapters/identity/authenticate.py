"""The one call the forward-auth handler makes: headers in, (Identity or None, problem code) out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from app.adapters.identity.errors import IdentityError, TokenProblem
from app.adapters.identity.extract import extract_token
from app.adapters.identity.verifier import JwtVerifier
from app.config.settings import IdentitySettings
from app.core.context import Identity


class SessionGuard(Protocol):
    """Countersign's own sessions can end before they expire (sign-out, an admin's revoke)."""

    def covers(self, identity: Identity) -> bool:
        """Whether the identity came from one of Countersign's sessions."""
        ...

    async def refusal(self, identity: Identity) -> TokenProblem | None:
        """Why that session may not be used now, or None."""
        ...


class Authenticator:
    """Finds the token, answers from the cache when it can, else verifies, then asks the session
    guard about a session of ours (from memory). Never raises for a bad token: returns
    (None, code), where code is a TokenProblem value for the decision log."""

    def __init__(
        self,
        verifier: JwtVerifier,
        *,
        cookie_name: str,
        assertion_header: str | None = None,
        max_token_bytes: int = 16_384,
        sessions: SessionGuard | None = None,
    ) -> None:
        self._verifier = verifier
        self._sessions = sessions
        self._cookie_name = cookie_name
        self._assertion_header = assertion_header
        self._max_token_bytes = max_token_bytes

    @classmethod
    def from_settings(
        cls,
        verifier: JwtVerifier,
        settings: IdentitySettings,
        *,
        sessions: SessionGuard | None = None,
    ) -> Authenticator:
        """Token sources as configured; `sessions` checks Countersign's own sessions."""
        return cls(
            verifier,
            cookie_name=settings.cookie_name,
            assertion_header=settings.assertion_header,
            max_token_bytes=settings.max_token_bytes,
            sessions=sessions,
        )

    async def __call__(self, headers: Mapping[str, str]) -> tuple[Identity | None, str | None]:
        """(identity, None) when verified; (None, None) without a token; (None, code) else."""
        try:
            token = extract_token(
                headers,
                cookie_name=self._cookie_name,
                assertion_header=self._assertion_header,
                max_bytes=self._max_token_bytes,
            )
            if token is None:
                return None, None
            identity = self._verifier.cached(token)
            if identity is None:
                identity = await self._verifier.verify(token)
        except IdentityError as error:
            return None, error.reason.value
        # Only our own sessions can be ended early; a provider's bearer token is not looked up.
        if self._sessions is not None and self._sessions.covers(identity):
            problem = await self._sessions.refusal(identity)
            if problem is not None:
                return None, problem.value
        return identity, None
