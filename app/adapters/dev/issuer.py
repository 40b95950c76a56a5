"""The dev issuer: an ES256 key made at first start, kept in DATA_DIR/dev/issuer-key.pem
(mode 0600) so `countersign token mint`, a separate process, signs tokens the service accepts.

Its issuer is PUBLIC_URL + "/dev" and its audience "countersign"; the service trusts its public
key directly (no JWKS fetch) and also publishes it at /dev/jwks.json for other tools.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt

from app.adapters.identity.key_sources import StaticKeys
from app.adapters.identity.keys import key_from_jwk, public_jwk, thumbprint
from app.adapters.identity.verifier import TrustedIssuer
from app.adapters.sessions.keys import create_key_file
from app.config.issuers import ClaimNames

KEY_PATH = Path("dev") / "issuer-key.pem"
#: The `iss` of the service that last started on this DATA_DIR: `token mint` signs with it, so
#: a token minted from a shell with other settings is still one that service accepts.
ISSUER_PATH = Path("dev") / "issuer"
DEV_AUDIENCE = "countersign"
ALGORITHM = "ES256"


class DevKeyMissingError(FileNotFoundError):
    """No dev issuer key yet: the service has not run in dev mode with this DATA_DIR."""


class DevKeyError(ValueError):
    """The dev issuer key file exists but cannot be used; the message says what to do."""


def key_file(data_dir: Path) -> Path:
    """Where the dev issuer's private key lives."""
    return data_dir / KEY_PATH


@dataclass(frozen=True, slots=True)
class DevIssuer:
    """Signs dev tokens. Holds a private key: never log or serialise it."""

    issuer: str
    audience: str
    kid: str
    public: Mapping[str, str]
    _private_pem: bytes = field(repr=False)

    @classmethod
    def load(cls, data_dir: Path, *, public_url: str, recorded: bool = False) -> DevIssuer:
        """The existing key; raises DevKeyMissingError if there is none. With `recorded`, the
        issuer is the one the service that owns DATA_DIR announced at its start, when known."""
        if recorded:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                known = (data_dir / ISSUER_PATH).read_text("utf-8").strip()
                if known.endswith("/dev"):
                    public_url = known.removesuffix("/dev")
        path = key_file(data_dir)
        try:
            pem = path.read_bytes()
        except FileNotFoundError:
            raise DevKeyMissingError(str(path)) from None
        except OSError as error:
            raise DevKeyError(f"cannot read {path}: {error.strerror or error}") from None
        try:
            return cls._from_pem(pem, public_url=public_url)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise DevKeyError(
                f"{path} is not an EC private key in PEM; delete it and restart to make a new one"
            ) from None

    @classmethod
    def load_or_create(cls, data_dir: Path, *, public_url: str) -> DevIssuer:
        """Load the key, or make one. Safe when several workers start at once: the first
        to publish its file wins and the others load it."""
        path = key_file(data_dir)
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            create_key_file(path)
        issuer = cls.load(data_dir, public_url=public_url)
        _record_issuer(data_dir / ISSUER_PATH, issuer.issuer)
        return issuer

    @classmethod
    def _from_pem(cls, pem: bytes, *, public_url: str) -> DevIssuer:
        private_key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise ValueError("the dev issuer key is not an EC key")
        members = public_jwk(private_key.public_key())
        kid = thumbprint(members)
        public = {**members, "kid": kid, "alg": ALGORITHM, "use": "sig"}
        return cls(
            issuer=public_url.rstrip("/") + "/dev",
            audience=DEV_AUDIENCE,
            kid=kid,
            public=public,
            _private_pem=pem,
        )

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public key set, as served at /dev/jwks.json."""
        return {"keys": [dict(self.public)]}

    def trusted_issuer(self, claims: ClaimNames) -> TrustedIssuer:
        """What the verifier needs to accept this issuer's tokens, with no HTTP fetch."""
        return TrustedIssuer(
            issuer=self.issuer,
            audiences=frozenset({self.audience}),
            algorithms=frozenset({ALGORITHM}),
            claims=claims,
            keys=StaticKeys([key_from_jwk(self.public)]),
        )

    def csrf_key(self) -> bytes:
        """A secret for the dev login's CSRF tokens, the same in every worker process."""
        return hmac.new(self._private_pem, b"countersign dev login csrf", "sha256").digest()

    def mint(
        self,
        *,
        email: str,
        now: float,
        ttl: timedelta,
        claims: ClaimNames,
        name: str | None = None,
        groups: Iterable[str] = (),
        amr: Iterable[str] = (),
        device_managed: bool | None = None,
        device_tags: Iterable[str] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed token for `email`, valid from `now` for `ttl`."""
        issued = int(now)
        payload: dict[str, Any] = {
            **(extra or {}),
            "iss": self.issuer,
            "aud": self.audience,
            "sub": email.lower(),
            "iat": issued,
            "nbf": issued,
            "exp": issued + int(ttl.total_seconds()),
            "jti": secrets.token_urlsafe(12),
            claims.email: email.lower(),
            claims.groups: list(groups),
            claims.amr: list(amr),
        }
        if name:
            payload["name"] = name
        tags = list(device_tags)
        if device_managed is not None or tags:
            payload[claims.device_managed] = bool(device_managed)
            payload[claims.device_tags] = tags
        token: str = jwt.encode(
            payload,
            self._private_pem.decode("ascii"),
            algorithm=ALGORITHM,
            headers={"kid": self.kid},
        )
        return token


def _record_issuer(path: Path, issuer: str) -> None:
    """Write `issuer` to `path` atomically, unless it already says so."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        if path.read_text("utf-8").strip() == issuer:
            return
    spare = path.with_name(f".{path.name}.{os.getpid()}")
    spare.write_text(issuer + "\n", "utf-8")
    spare.replace(path)
