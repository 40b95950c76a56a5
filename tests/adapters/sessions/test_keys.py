"""Countersign's signing keys: ES256 from PEM files, the first signs and all verify, kid is the
RFC 7638 thumbprint, dev keys persist, and start-up refuses what cannot work in one line."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from app.adapters.identity.errors import IdentityError, TokenProblem
from app.adapters.sessions.keys import DEV_KEY_PATH, SessionKeys, keys_from_settings
from app.adapters.sessions.routes import jwks_router
from app.config import Settings, SettingsError, load_settings
from tests.adapters.sessions.support import ALICE, Replica, write_key


def settings_with(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"COUNTERSIGN_DATA_DIR": str(tmp_path / "var"), **env})


def keys_for(settings: Settings) -> SessionKeys | None:
    """The keys as the service picks them: its session settings, DATA_DIR in dev mode, and
    whether OIDC sign-in is on."""
    dev_data_dir = settings.server.data_dir if settings.dev.enabled else None
    return keys_from_settings(
        settings.sessions, dev_data_dir=dev_data_dir, oidc=settings.signin is not None
    )


def test_first_key_signs_and_every_replica_with_the_same_file_accepts(tmp_path: Path) -> None:
    """Two replicas given the same key file accept each other's sessions (same kid)."""
    path = write_key(tmp_path / "k1.pem")
    a, b = Replica(SessionKeys.from_files([path])), Replica(SessionKeys.from_files([path]))
    token = a.sessions.issue(ALICE, sid="s1")
    assert asyncio.run(b.verifier.verify(token)).subject == "u-alice"


def test_a_session_signed_by_an_unknown_key_is_refused(tmp_path: Path) -> None:
    """MALLORY's own P-256 key makes a well-formed session that no replica accepts."""
    ours = SessionKeys.from_files([write_key(tmp_path / "ours.pem")])
    mallory = SessionKeys.from_files([write_key(tmp_path / "mallory.pem")])
    forged = Replica(mallory).sessions.issue(ALICE, sid="s1")
    with pytest.raises(IdentityError) as refused:
        asyncio.run(Replica(ours).verifier.verify(forged))
    assert refused.value.reason is TokenProblem.KEY_UNKNOWN


def test_rotation_new_key_signs_old_key_still_verifies(tmp_path: Path) -> None:
    """With NEW first and OLD second, new sessions carry NEW's kid and OLD's sessions still pass."""
    old, new = write_key(tmp_path / "old.pem"), write_key(tmp_path / "new.pem")
    before = SessionKeys.from_files([old])
    after = SessionKeys.from_files([new, old])
    old_session = Replica(before).sessions.issue(ALICE, sid="s-old")
    replica = Replica(after)
    new_session = replica.sessions.issue(ALICE, sid="s-new")
    assert after.kid != before.kid
    assert asyncio.run(replica.verifier.verify(old_session)).subject == "u-alice"
    assert asyncio.run(replica.verifier.verify(new_session)).subject == "u-alice"
    with pytest.raises(IdentityError):
        asyncio.run(Replica(before).verifier.verify(new_session))


def test_kid_is_the_rfc7638_thumbprint(tmp_path: Path) -> None:
    """The kid is the same for the same key in any process, and differs between keys."""
    path = write_key(tmp_path / "k.pem")
    assert SessionKeys.from_files([path]).kid == SessionKeys.from_files([path]).kid
    other = write_key(tmp_path / "other.pem")
    assert SessionKeys.from_files([path]).kid != SessionKeys.from_files([other]).kid
    assert len(SessionKeys.from_files([path]).kid) == 43  # base64url SHA-256


def test_jwks_endpoint_serves_public_keys_only(tmp_path: Path) -> None:
    """GET /.well-known/jwks.json lists every key with kid, alg ES256, no private member `d`."""
    keys = SessionKeys.from_files([write_key(tmp_path / "a.pem"), write_key(tmp_path / "b.pem")])
    app = FastAPI()
    app.include_router(jwks_router(keys))

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/.well-known/jwks.json")

    answer = asyncio.run(fetch())
    assert answer.status_code == 200
    assert "max-age=300" in answer.headers["cache-control"]
    served = answer.json()["keys"]
    assert served[0]["kid"] == keys.kid
    assert len(served) == 2
    for key in served:
        assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
        assert key["alg"] == "ES256"


def test_dev_key_is_made_once_private_and_kept_across_restarts(tmp_path: Path) -> None:
    """Without SESSION_KEY_FILE, dev mode makes a key under DATA_DIR once (0600) and reuses it."""
    settings = settings_with(tmp_path, COUNTERSIGN_DEV="true")
    first = keys_for(settings)
    second = keys_for(settings)
    assert first is not None
    assert second is not None
    assert first.kid == second.kid
    path = tmp_path / "var" / DEV_KEY_PATH
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_without_key_file_outside_dev_mode_sessions_are_off(tmp_path: Path) -> None:
    """No SESSION_KEY_FILE, no dev mode and no OIDC sign-in: no keys, and no error."""
    assert keys_for(settings_with(tmp_path)) is None


def test_oidc_without_key_file_refuses_to_start(tmp_path: Path) -> None:
    """OIDC sign-in configured but no SESSION_KEY_FILE: one SettingsError line naming it."""
    settings = settings_with(
        tmp_path,
        COUNTERSIGN_OIDC_ISSUER="https://idp.example.com",
        COUNTERSIGN_OIDC_CLIENT_ID="countersign",
    )
    with pytest.raises(SettingsError) as refused:
        keys_for(settings)
    assert str(refused.value).startswith("COUNTERSIGN_SESSION_KEY_FILE: is required")
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot be read"),
        (b"not a key", "is not an unencrypted PEM private key"),
        ("p384", "is not an EC P-256 private key"),
    ],
)
def test_unusable_key_file_refuses_to_start(
    tmp_path: Path, content: bytes | str | None, problem: str
) -> None:
    """A missing, garbled or non-P-256 key file is named in one SettingsError line."""
    path = tmp_path / "key.pem"
    if content == "p384":
        write_key(path, ec.SECP384R1())
    elif isinstance(content, bytes):
        path.write_bytes(content)
    settings = settings_with(tmp_path, COUNTERSIGN_SESSION_KEY_FILE=str(path))
    with pytest.raises(SettingsError) as refused:
        keys_for(settings)
    assert str(refused.value).startswith(f"COUNTERSIGN_SESSION_KEY_FILE: {path}")
    assert problem in str(refused.value)


def test_key_file_setting_is_a_comma_list(tmp_path: Path) -> None:
    """COUNTERSIGN_SESSION_KEY_FILE=a,b loads both keys, a signing."""
    a, b = write_key(tmp_path / "a.pem"), write_key(tmp_path / "b.pem")
    settings = settings_with(tmp_path, COUNTERSIGN_SESSION_KEY_FILE=f"{a}, {b}")
    keys = keys_for(settings)
    assert keys is not None
    assert keys.kid == SessionKeys.from_files([a]).kid
    assert len(keys.jwks()["keys"]) == 2
