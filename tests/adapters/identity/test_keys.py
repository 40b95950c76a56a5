"""Verification keys from JWKS documents and PEM files: only usable public keys survive."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from app.adapters.identity.keys import (
    KeyMaterialError,
    key_from_jwk,
    key_from_pem,
    keys_from_jwks,
    public_jwk,
)
from tests.adapters.identity.tokens import ec_key, ed_key, rsa_key


def test_private_members_of_a_jwk_are_dropped() -> None:
    """A careless IdP publishing `d` does not make us hold its private key."""
    signer = ec_key()
    private_numbers = signer.private.private_numbers()
    leaked = {**signer.public_jwk(), "d": str(private_numbers.private_value)}
    assert "d" not in key_from_jwk(leaked).jwk


def test_encryption_keys_are_skipped() -> None:
    """A JWKS entry with `use: enc` is not used for signatures."""
    signing, encryption = rsa_key("sig").public_jwk(), rsa_key("enc", slot=1).public_jwk(use="enc")
    keys = keys_from_jwks({"keys": [encryption, signing]})
    assert [k.kid for k in keys] == ["sig"]


def test_short_rsa_keys_are_refused() -> None:
    """RSA keys under 2048 bits cannot verify anything here."""
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505  (the point)
    with pytest.raises(KeyMaterialError, match="2048"):
        key_from_jwk(public_jwk(weak.public_key()))


def test_jwks_without_usable_keys_is_an_error() -> None:
    """A document whose keys are all unusable is junk, not an empty key set."""
    with pytest.raises(KeyMaterialError):
        keys_from_jwks({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})


def test_ec_key_fits_only_its_own_algorithm() -> None:
    """A P-256 key verifies ES256 only: never RS256, ES384 or HS256."""
    key = key_from_jwk(ec_key().public_jwk())
    assert [alg for alg in ("ES256", "ES384", "RS256", "HS256", "none") if key.fits(alg)] == [
        "ES256"
    ]


def test_key_pinned_by_alg_fits_only_that_alg() -> None:
    """A JWK with `alg: RS384` is not used for RS256 tokens."""
    key = key_from_jwk(rsa_key().public_jwk(alg="RS384"))
    assert (key.fits("RS256"), key.fits("RS384")) == (False, True)


def test_pem_public_key_of_each_family_loads() -> None:
    """RSA, EC and Ed25519 PEM public keys all load."""
    kinds = [key_from_pem(k.public_pem()).kty for k in (rsa_key(), ec_key(), ed_key())]
    assert kinds == ["RSA", "EC", "OKP"]


def test_pem_private_key_is_refused() -> None:
    """A private key PEM is refused with a reason."""
    with pytest.raises(KeyMaterialError, match="private key"):
        key_from_pem(ec_key().private_pem().encode())
