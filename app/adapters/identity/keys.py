"""Public verification keys from a JWKS document or a PEM file, and which algorithms fit them.

RSA and EC signatures are checked with python-jose; EdDSA (which python-jose lacks) with
`cryptography`, the library python-jose itself runs on. A key never verifies an algorithm of
another family, so an RSA key can never be used as an HMAC secret.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509 import load_pem_x509_certificate
from jose import jwk
from jose.exceptions import JOSEError

#: alg -> (kty, curve or None)
_FAMILY: dict[str, tuple[str, tuple[str, ...]]] = {
    "RS256": ("RSA", ()),
    "RS384": ("RSA", ()),
    "RS512": ("RSA", ()),
    "ES256": ("EC", ("P-256",)),
    "ES384": ("EC", ("P-384",)),
    "ES512": ("EC", ("P-521",)),
    "EdDSA": ("OKP", ("Ed25519", "Ed448")),
}
_PUBLIC_MEMBERS = {
    "RSA": ("kty", "n", "e"),
    "EC": ("kty", "crv", "x", "y"),
    "OKP": ("kty", "crv", "x"),
}
_MIN_RSA_BITS = 2048
_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


class KeyMaterialError(ValueError):
    """A key that cannot be used to verify signatures; the message says why (no key material)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: object) -> bytes:
    if not isinstance(text, str) or not text:
        raise KeyMaterialError("a key member is missing or not a string")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise KeyMaterialError("a key member is not base64url") from None


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One public key. `alg` is set when the key is pinned to one algorithm."""

    kid: str | None
    kty: str
    crv: str | None
    alg: str | None
    jwk: Mapping[str, str]
    _verifiers: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def fits(self, alg: str) -> bool:
        """True if this key may verify a signature made with `alg`."""
        family = _FAMILY.get(alg)
        if family is None or (self.alg is not None and self.alg != alg):
            return False
        kty, curves = family
        return self.kty == kty and (not curves or self.crv in curves)

    def verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        """Check a signature; False (never an exception) when it does not match."""
        if not self.fits(alg) or not signature:
            return False
        verifier = self._verifiers.get(alg)
        if verifier is None:
            verifier = self._verifiers[alg] = _build(self.kty, self.crv, self.jwk, alg)
        if self.kty == "OKP":
            try:
                verifier.verify(signature, signing_input)
            except InvalidSignature:
                return False
            return True
        return bool(verifier.verify(signing_input, signature))


def _build(kty: str, crv: str | None, members: Mapping[str, str], alg: str) -> Any:
    if kty == "OKP":
        raw = _b64url_decode(members["x"])
        try:
            if crv == "Ed25519":
                return ed25519.Ed25519PublicKey.from_public_bytes(raw)
            return ed448.Ed448PublicKey.from_public_bytes(raw)
        except (ValueError, UnsupportedAlgorithm):
            raise KeyMaterialError("the OKP key is not a valid public key") from None
    try:
        return jwk.construct(dict(members), alg)
    except (JOSEError, ValueError, TypeError):
        raise KeyMaterialError(f"the {kty} key is not a valid public key") from None


def key_from_jwk(data: Mapping[str, Any]) -> VerificationKey:
    """A verification key from one JWK; raises KeyMaterialError for anything unusable."""
    kty = data.get("kty")
    if kty not in _PUBLIC_MEMBERS:
        raise KeyMaterialError(f"unsupported key type {str(kty)[:16]!r}")
    if data.get("use", "sig") != "sig":
        raise KeyMaterialError("the key is not for signatures")
    ops = data.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise KeyMaterialError("the key is not for verification")
    kid, alg, crv = data.get("kid"), data.get("alg"), data.get("crv")
    if kid is not None and not isinstance(kid, str):
        raise KeyMaterialError("kid is not a string")
    if alg is not None and alg not in _FAMILY:
        raise KeyMaterialError(f"the key is pinned to an algorithm we refuse: {str(alg)[:16]!r}")
    # Only the public members are kept, even if a careless IdP publishes private ones.
    members: dict[str, str] = {}
    for name in _PUBLIC_MEMBERS[kty]:
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise KeyMaterialError(f"the {kty} key lacks '{name}'")
        members[name] = value
    if kty == "RSA" and len(_b64url_decode(members["n"]).lstrip(b"\0")) * 8 < _MIN_RSA_BITS:
        raise KeyMaterialError(f"RSA keys shorter than {_MIN_RSA_BITS} bits are refused")
    if kty in ("EC", "OKP") and not any(crv in curves for _, curves in _FAMILY.values()):
        raise KeyMaterialError(f"unsupported curve {str(crv)[:16]!r}")
    key = VerificationKey(kid=kid, kty=kty, crv=crv, alg=alg, jwk=members)
    probe = alg or next(a for a in _FAMILY if key.fits(a))
    key._verifiers[probe] = _build(kty, crv, members, probe)  # validates the material now
    return key


def keys_from_jwks(document: object) -> tuple[VerificationKey, ...]:
    """Usable keys of a JWKS document; keys we cannot use are skipped. Raises KeyMaterialError when
    the document is not a JWKS or holds no usable key at all (junk never replaces good keys)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeyMaterialError("not a JWKS document (no 'keys' list)")
    keys = []
    for item in document["keys"]:
        if not isinstance(item, dict):
            continue
        try:
            keys.append(key_from_jwk(item))
        except KeyMaterialError:
            continue
    if not keys:
        raise KeyMaterialError("the JWKS holds no usable signing key")
    return tuple(keys)


def public_jwk(public_key: object, *, kid: str | None = None) -> dict[str, str]:
    """The JWK of a `cryptography` public key (RSA, EC P-256/384/521, Ed25519, Ed448)."""
    members: dict[str, str]
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        members = {
            "kty": "RSA",
            "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        }
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        crv = _CURVES.get(public_key.curve.name)
        if crv is None:
            raise KeyMaterialError(f"unsupported curve {public_key.curve.name}")
        size = (public_key.curve.key_size + 7) // 8
        point = public_key.public_numbers()
        members = {
            "kty": "EC",
            "crv": crv,
            "x": _b64url(point.x.to_bytes(size, "big")),
            "y": _b64url(point.y.to_bytes(size, "big")),
        }
    elif isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        crv = "Ed25519" if isinstance(public_key, ed25519.Ed25519PublicKey) else "Ed448"
        members = {"kty": "OKP", "crv": crv, "x": _b64url(raw)}
    else:
        raise KeyMaterialError("unsupported key type")
    if kid is not None:
        members["kid"] = kid
    return members


def thumbprint(members: Mapping[str, str]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256) of a public key: the `kid` Countersign gives its own
    keys, the same in every replica given the same key."""
    required = _PUBLIC_MEMBERS.get(str(members.get("kty")))
    if required is None:
        raise KeyMaterialError("unsupported key type")
    canonical = json.dumps(
        {name: members[name] for name in required}, separators=(",", ":"), sort_keys=True
    )
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def key_from_pem(data: bytes) -> VerificationKey:
    """A verification key from a PEM public key or certificate. A private key is refused:
    a decision point has no business holding an issuer's signing key."""
    if b"PRIVATE KEY" in data:
        raise KeyMaterialError("holds a private key; give the issuer's public key instead")
    try:
        if b"BEGIN CERTIFICATE" in data:
            public_key: object = load_pem_x509_certificate(data).public_key()
        else:
            public_key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise KeyMaterialError("is not a PEM public key or certificate") from None
    return key_from_jwk(public_jwk(public_key))


def load_key_file(path: Path) -> VerificationKey:
    """Read and parse a PEM key file; raises KeyMaterialError with a reason fit for one log line."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise KeyMaterialError(f"cannot read {path}: {error.strerror or error}") from None
    return key_from_pem(data)
