"""The dev issuer: a private key kept in DATA_DIR, tokens the verifier accepts, a public JWKS."""

from __future__ import annotations

import asyncio
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from app.adapters.dev.issuer import DevIssuer, DevKeyError, DevKeyMissingError, key_file
from app.adapters.identity.errors import IdentityError, TokenProblem
from app.adapters.identity.verifier import JwtVerifier
from app.config.issuers import ClaimNames

PUBLIC_URL = "http://127.0.0.1:8080"
NOW = 1_714_989_600.0


def test_key_is_created_private(tmp_path: Path) -> None:
    """The key file is created with its directories and mode 0600."""
    DevIssuer.load_or_create(tmp_path / "var", public_url=PUBLIC_URL)
    mode = stat.S_IMODE(key_file(tmp_path / "var").stat().st_mode)
    assert mode == 0o600


def test_key_survives_a_restart(tmp_path: Path) -> None:
    """A second start loads the same key, so earlier sessions stay valid."""
    first = DevIssuer.load_or_create(tmp_path, public_url=PUBLIC_URL)
    second = DevIssuer.load_or_create(tmp_path, public_url=PUBLIC_URL)
    assert first.kid == second.kid


def test_load_without_a_key_says_so(tmp_path: Path) -> None:
    """`load` (what token mint uses) never creates a key."""
    with pytest.raises(DevKeyMissingError):
        DevIssuer.load(tmp_path, public_url=PUBLIC_URL)


def test_issuer_and_audience_follow_public_url(tmp_path: Path) -> None:
    """The issuer is PUBLIC_URL/dev and the audience `countersign`."""
    issuer = DevIssuer.load_or_create(tmp_path, public_url="https://auth.example.com/")
    assert (issuer.issuer, issuer.audience) == ("https://auth.example.com/dev", "countersign")


def test_jwks_holds_only_the_public_key(tmp_path: Path) -> None:
    """The published JWKS has x and y but never the private `d`."""
    (jwk,) = DevIssuer.load_or_create(tmp_path, public_url=PUBLIC_URL).jwks()["keys"]
    assert {"kty", "crv", "x", "y", "kid"} <= set(jwk)
    assert "d" not in jwk


def test_minted_token_verifies_as_alice(tmp_path: Path) -> None:
    """A dev token for ALICE verifies through the static trust, with her claims."""
    issuer = DevIssuer.load_or_create(tmp_path, public_url=PUBLIC_URL)
    verifier = JwtVerifier([issuer.trusted_issuer(ClaimNames())], clock=lambda: NOW + 5)
    token = issuer.mint(
        email="Alice@Example.com",
        groups=["engineers"],
        amr=["mfa"],
        device_managed=True,
        device_tags=["disk-encrypted"],
        claims=ClaimNames(),
        now=NOW,
        ttl=timedelta(hours=1),
    )
    identity = asyncio.run(verifier.verify(token))
    assert (identity.email, identity.groups, identity.amr) == (
        "alice@example.com",
        frozenset({"engineers"}),
        frozenset({"mfa"}),
    )
    assert identity.claims["device_managed"] is True


def test_token_of_another_dev_key_is_refused(tmp_path: Path) -> None:
    """MALLORY's own dev install cannot mint tokens this one accepts."""
    ours = DevIssuer.load_or_create(tmp_path / "ours", public_url=PUBLIC_URL)
    theirs = DevIssuer.load_or_create(tmp_path / "theirs", public_url=PUBLIC_URL)
    verifier = JwtVerifier([ours.trusted_issuer(ClaimNames())], clock=lambda: NOW)
    token = theirs.mint(
        email="mallory@contractor.example", claims=ClaimNames(), now=NOW, ttl=timedelta(hours=1)
    )
    with pytest.raises(IdentityError) as caught:
        asyncio.run(verifier.verify(token))
    assert caught.value.reason is TokenProblem.KEY_UNKNOWN


def test_corrupt_key_file_is_explained(tmp_path: Path) -> None:
    """A damaged key file is not silently replaced; the error says what to do."""
    key_file(tmp_path).parent.mkdir(parents=True)
    key_file(tmp_path).write_text("not a key")
    with pytest.raises(DevKeyError, match="delete it and restart"):
        DevIssuer.load_or_create(tmp_path, public_url=PUBLIC_URL)


def test_private_key_is_not_in_the_repr(tmp_path: Path) -> None:
    """Logging the issuer object never prints its private key."""
    issuer = DevIssuer.load_or_create(tmp_path, public_url=PUBLIC_URL)
    assert "PRIVATE" not in repr(issuer)
