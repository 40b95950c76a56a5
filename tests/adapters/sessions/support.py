"""Helpers for session tests: keys in PEM files, a SessionManager wired like bootstrap does, and
the verifier that accepts its sessions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.adapters.identity.authenticate import Authenticator
from app.adapters.identity.verifier import JwtVerifier
from app.adapters.sessions.contract import SignIn
from app.adapters.sessions.keys import SessionKeys
from app.adapters.sessions.manager import CookiePolicy, SessionManager
from app.adapters.sessions.revocations import SessionRevocations
from app.adapters.sessions.tokens import trusted_session_issuer

PUBLIC_URL = "https://countersign.example.com"
IDP = "https://idp.example.com"
COOKIE = "countersign_session"
T0 = 1_714_989_600.0
TTL = timedelta(hours=12)

ALICE = SignIn(
    issuer=IDP,
    subject="u-alice",
    email="alice@example.com",
    groups=frozenset({"engineers"}),
    amr=frozenset({"pwd", "mfa"}),
    auth_time=int(T0) - 60,
)
BOB = SignIn(
    issuer=IDP,
    subject="u-bob",
    email="bob@example.com",
    groups=frozenset({"sre", "countersign-admins"}),
    amr=frozenset({"mfa"}),
    auth_time=int(T0) - 60,
)


def write_key(path: Path, curve: ec.EllipticCurve | None = None) -> Path:
    """A new private key in PEM at `path` (P-256 unless told)."""
    key = ec.generate_private_key(curve or ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


class Clock:
    """Seconds since the epoch that move only when a test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Replica:
    """One Countersign replica's session parts: verifier, manager, authenticator."""

    def __init__(
        self,
        keys: SessionKeys,
        *,
        client: Any = None,
        clock: Clock | None = None,
        verify_keys: SessionKeys | None = None,
    ) -> None:
        self.clock = clock or Clock()
        self.revocations = SessionRevocations(client, clock=self.clock, retry_interval=0.05)
        trusted = trusted_session_issuer(verify_keys or keys, issuer=PUBLIC_URL)
        self.verifier = JwtVerifier([trusted], clock=self.clock)
        self.sessions = SessionManager(
            keys=keys,
            revocations=self.revocations,
            issuer=PUBLIC_URL,
            cookie=CookiePolicy(COOKIE, None, secure=True),
            ttl=TTL,
            leeway=30.0,
            verify=self.verifier.verify,
            clock=self.clock,
        )
        self.authenticate = Authenticator(self.verifier, cookie_name=COOKIE, sessions=self.sessions)

    async def check(self, token: str) -> tuple[str | None, str | None]:
        """(subject, None) when the session cookie is accepted, (None, problem) when not."""
        identity, problem = await self.authenticate({"cookie": f"{COOKIE}={token}"})
        return (identity.subject if identity else None), problem
