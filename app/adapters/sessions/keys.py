"""Countersign's own signing keys (ES256): sessions and per-application assertions.

Keys are PEM EC P-256 private keys named by COUNTERSIGN_SESSION_KEY_FILE: the first signs, every
one verifies, so a key is rotated by putting the new one first and dropping the old one a
session lifetime later. The `kid` is the RFC 7638 thumbprint, so every replica given the same
files names (and accepts) the same keys. python-jose has no EdDSA signer, hence ES256.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt

from app.adapters.identity.key_sources import StaticKeys
from app.adapters.identity.keys import key_from_jwk, public_jwk, thumbprint
from app.config import SettingsError
from app.config.sessions import SessionSettings

ALGORITHM = "ES256"
SETTING = "COUNTERSIGN_SESSION_KEY_FILE"
#: Dev mode's session key, made once and kept (like the dev issuer's).
DEV_KEY_PATH = Path("dev") / "session-key.pem"


class SigningKeyError(ValueError):
    """A private key that cannot sign sessions; the message fits one log line (no key material)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One ES256 private key and its public JWK. Never log or serialise `_pem`."""

    kid: str
    public: Mapping[str, str]
    _pem: str = field(repr=False)

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        """Parse a PEM private key; raises SigningKeyError unless it is an EC P-256 key."""
        try:
            private_key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise SigningKeyError("is not an unencrypted PEM private key") from None
        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
            private_key.curve, ec.SECP256R1
        ):
            raise SigningKeyError("is not an EC P-256 private key (ES256)")
        members = public_jwk(private_key.public_key())
        kid = thumbprint(members)
        return cls(
            kid=kid,
            public={**members, "kid": kid, "alg": ALGORITHM, "use": "sig"},
            _pem=pem.decode("ascii"),
        )

    @classmethod
    def from_file(cls, path: Path) -> SigningKey:
        """Read and parse one key file."""
        try:
            pem = path.read_bytes()
        except OSError as error:
            raise SigningKeyError(f"{path} cannot be read: {error.strerror or error}") from None
        try:
            return cls.from_pem(pem)
        except SigningKeyError as error:
            raise SigningKeyError(f"{path} {error}") from None

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A compact JWS over `claims` with this key's kid."""
        token: str = jwt.encode(
            dict(claims), self._pem, algorithm=ALGORITHM, headers={"kid": self.kid}
        )
        return token


class SessionKeys:
    """Implements contract.Signer: the first key signs, all of them verify."""

    def __init__(self, keys: Sequence[SigningKey]) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        unique = {key.kid: key for key in reversed(keys)}  # the same file twice counts once
        self._current = keys[0]
        self._keys = (keys[0], *(key for kid, key in unique.items() if kid != keys[0].kid))

    @classmethod
    def from_files(cls, paths: Sequence[Path]) -> SessionKeys:
        """Load every file; raises SigningKeyError naming the first bad one."""
        return cls([SigningKey.from_file(path) for path in paths])

    @property
    def kid(self) -> str:
        """The kid of the signing key."""
        return self._current.kid

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A compact JWS over `claims`, signed with the current key."""
        return self._current.sign(claims)

    def jwks(self) -> dict[str, Any]:
        """The public keys (never a private member), signing key first."""
        return {"keys": [dict(key.public) for key in self._keys]}

    def verification_keys(self) -> StaticKeys:
        """Every public key, for the verifier (no fetch)."""
        return StaticKeys([key_from_jwk(key.public) for key in self._keys])


def keys_from_settings(
    settings: SessionSettings, *, dev_data_dir: Path | None, oidc: bool
) -> SessionKeys | None:
    """The keys to use, or None when sessions are off; raises SettingsError in one line.

    SESSION_KEY_FILE wins. Without it, dev mode (`dev_data_dir`: DATA_DIR in dev mode, else
    None) makes a key once under DATA_DIR and keeps it; outside dev mode sessions are off, and
    a configured OIDC sign-in (`oidc`) refuses to start.
    """
    if settings.key_file:
        try:
            return SessionKeys.from_files(settings.key_file)
        except SigningKeyError as error:
            raise SettingsError((SETTING, str(error))) from None
    if dev_data_dir is not None:
        path = dev_data_dir / DEV_KEY_PATH
        try:
            return SessionKeys([load_or_create_key(path)])
        except SigningKeyError as error:
            raise SettingsError(
                (SETTING, f"unset, and the dev key {error}; delete it to make a new one")
            ) from None
    if oidc:
        raise SettingsError(
            (SETTING, "is required with COUNTERSIGN_OIDC_ISSUER: sessions must be signed")
        )
    return None


def load_or_create_key(path: Path) -> SigningKey:
    """The key in `path`, made first if there is none (safe when several workers start at once:
    the first to publish its file wins and the others load it)."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        create_key_file(path)
    return SigningKey.from_file(path)


def create_key_file(path: Path) -> None:
    """Write a new P-256 key to a private (0600) temp file, then link it into place: atomic,
    never clobbering a key another process published first."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another worker was first: use its key
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
