"""Test helpers for identity: signing keys, token builders, a movable clock and a real JWKS
server on loopback. Tokens are built with python-jose (RS/ES) or by hand (EdDSA, forgeries)."""

from __future__ import annotations

import base64
import functools
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jose import jwt

from app.adapters.identity.key_sources import StaticKeys
from app.adapters.identity.keys import key_from_jwk, public_jwk
from app.adapters.identity.verifier import JwtVerifier, TrustedIssuer
from app.config.issuers import ClaimNames

ISSUER = "https://idp.example.com"
AUDIENCE = "countersign"
T0 = 1_714_989_600.0  # 2024-05-06 10:00 UTC, a Monday

ALICE = {
    "sub": "u-alice",
    "email": "Alice@Example.com",
    "groups": ["engineers"],
    "amr": ["pwd", "mfa"],
    "department": "engineering",
}
BOB = {"sub": "u-bob", "email": "bob@example.com", "groups": ["sre", "sre-leads"], "amr": ["mfa"]}
MALLORY = {
    "sub": "u-mallory",
    "email": "mallory@contractor.example",
    "groups": ["contractors"],
    "amr": ["pwd"],
}


class FakeClock:
    """Seconds since the epoch that only move when a test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


@dataclass
class SigningKey:
    """A private key and how tokens signed with it are labelled."""

    alg: str
    kid: str | None
    private: Any

    def public_jwk(self, **extra: str) -> dict[str, str]:
        members = public_jwk(self.private.public_key(), kid=self.kid)
        return {**members, **extra}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def sign(self, claims: dict[str, Any], *, headers: dict[str, Any] | None = None) -> str:
        header = dict(headers or {})
        if self.kid is not None:
            header.setdefault("kid", self.kid)
        if self.alg == "EdDSA":
            full = {"alg": "EdDSA", "typ": "JWT", **header}
            signing_input = f"{segment(full)}.{segment(claims)}"
            signature = self.private.sign(signing_input.encode())
            return f"{signing_input}.{b64(signature)}"
        token: str = jwt.encode(claims, self.private_pem(), algorithm=self.alg, headers=header)
        return token


@functools.cache
def _rsa_private(slot: int) -> rsa.RSAPrivateKey:
    # RSA generation is slow; each numbered slot is made once per test run.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rsa_key(kid: str | None = "rsa-1", *, slot: int = 0) -> SigningKey:
    """The RSA key in `slot`, labelled `kid`; different slots are different keys."""
    return SigningKey("RS256", kid, _rsa_private(slot))


def ec_key(kid: str | None = "ec-1") -> SigningKey:
    return SigningKey("ES256", kid, ec.generate_private_key(ec.SECP256R1()))


def ed_key(kid: str | None = "ed-1") -> SigningKey:
    return SigningKey("EdDSA", kid, ed25519.Ed25519PrivateKey.generate())


def static_verifier(
    *keys: SigningKey,
    clock: FakeClock,
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA"),
    claims: ClaimNames | None = None,
    **options: Any,
) -> JwtVerifier:
    """A verifier trusting ISSUER with exactly these public keys."""
    issuer = TrustedIssuer(
        issuer=ISSUER,
        audiences=frozenset({AUDIENCE}),
        algorithms=frozenset(algorithms),
        claims=claims or ClaimNames(),
        keys=StaticKeys([key_from_jwk(key.public_jwk()) for key in keys]),
    )
    return JwtVerifier([issuer], clock=clock, leeway=30, **options)


def claims_for(
    person: dict[str, Any], now: float, *, ttl: float = 600, **overrides: Any
) -> dict[str, Any]:
    """Registered claims valid at `now` for `ttl` seconds, plus the person's claims."""
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now + ttl),
        **person,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def forge_hs256(claims: dict[str, Any], secret: bytes, *, kid: str | None = None) -> str:
    """An HS256 token whose HMAC key is `secret` (for the public-key-as-secret attack)."""
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = f"{segment(header)}.{segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), "sha256").digest()
    return f"{signing_input}.{b64(mac)}"


def unsigned(claims: dict[str, Any]) -> str:
    """An `alg: none` token."""
    return f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims)}."


@dataclass
class JwksServer:
    """A real HTTP server on 127.0.0.1 serving whatever `status` and `body` say now."""

    status: int = 200
    body: bytes = b'{"keys": []}'
    requests: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self, jwks: dict[str, Any]) -> None:
        self.status, self.body = 200, json.dumps(jwks).encode()


@contextmanager
def jwks_server() -> Iterator[JwksServer]:
    state = JwksServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with state.lock:
                state.requests += 1
                status, body = state.status, state.body
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
