"""The one call the forward-auth handler makes: headers in, (Identity or None, problem code) out."""

from __future__ import annotations

from collections.abc import Mapping

from app.adapters.identity.errors import IdentityError
from app.adapters.identity.extract import extract_token
from app.adapters.identity.verifier import JwtVerifier
from app.config import Settings
from app.core.context import Identity


class Authenticator:
    """Finds the token, answers from the cache when it can, else verifies. Never raises for a
    bad token: returns (None, code), where code is a TokenProblem value for the decision log."""

    def __init__(
        self,
        verifier: JwtVerifier,
        *,
        cookie_name: str,
        assertion_header: str | None = None,
        max_token_bytes: int = 16_384,
    ) -> None:
        self._verifier = verifier
        self._cookie_name = cookie_name
        self._assertion_header = assertion_header
        self._max_token_bytes = max_token_bytes

    @classmethod
    def from_settings(cls, verifier: JwtVerifier, settings: Settings) -> Authenticator:
        """Token sources as configured."""
        return cls(
            verifier,
            cookie_name=settings.cookie_name,
            assertion_header=settings.assertion_header,
            max_token_bytes=settings.max_token_bytes,
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
        return identity, None
