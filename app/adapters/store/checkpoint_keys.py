"""The Ed25519 keys of audit checkpoints (ADR 0018): the private key that signs them
(COUNTERSIGN_AUDIT_CHECKPOINT_KEY_FILE) and the public key an auditor verifies them with
(`countersign audit verify --public-key`). An asymmetric key, so that whoever checks the log
needs nothing that could sign a forged checkpoint.

The key id is the first 16 hex digits of the SHA-256 of the raw public key: a checkpoint names
the key that signed it, and a rotated key is told apart without trying every signature.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.core.audit_checkpoint import CheckpointClaim, SignedCheckpoint


class CheckpointKeyError(ValueError):
    """A key file that cannot be used; the message fits one line and holds no key material."""


def key_id(public: Ed25519PublicKey) -> str:
    """The short, stable name of a public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class CheckpointSigner:
    """Signs checkpoints with one private key. Never log or serialise `_key`."""

    key_id: str
    _key: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def from_file(cls, path: Path) -> CheckpointSigner:
        """Read a PEM (PKCS #8) Ed25519 private key, as `openssl genpkey -algorithm ed25519`
        writes it."""
        try:
            key = serialization.load_pem_private_key(_read(path), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise CheckpointKeyError(f"{path} is not an unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise CheckpointKeyError(f"{path} is not an Ed25519 private key")
        return cls(key_id(key.public_key()), key)

    def sign(self, claim: CheckpointClaim) -> SignedCheckpoint:
        """`claim` signed with this key."""
        signature = self._key.sign(claim.payload())
        return SignedCheckpoint(claim, self.key_id, _b64(signature))

    def verifier(self) -> CheckpointVerifier:
        """The public half, which checks what this key signed."""
        return CheckpointVerifier(self.key_id, self._key.public_key())


@dataclass(frozen=True, slots=True)
class CheckpointVerifier:
    """Checks checkpoint signatures with one public key."""

    key_id: str
    _key: Ed25519PublicKey = field(repr=False)

    @classmethod
    def from_file(cls, path: Path) -> CheckpointVerifier:
        """Read a PEM Ed25519 public key (`openssl pkey -pubout`)."""
        try:
            key = serialization.load_pem_public_key(_read(path))
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise CheckpointKeyError(f"{path} is not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise CheckpointKeyError(f"{path} is not an Ed25519 public key")
        return cls(key_id(key), key)

    def valid(self, checkpoint: SignedCheckpoint) -> bool:
        """Whether this key signed exactly this claim."""
        if checkpoint.key_id != self.key_id:
            return False
        try:
            signature = base64.urlsafe_b64decode(checkpoint.signature + "==")
            self._key.verify(signature, checkpoint.claim.payload())
        except (InvalidSignature, ValueError):
            return False
        return True


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CheckpointKeyError(f"{path} cannot be read: {error.strerror or error}") from None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
