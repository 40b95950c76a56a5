"""`countersign token mint`: prints a dev token the running service accepts."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from app.adapters.dev.issuer import DevIssuer
from app.adapters.identity.verifier import JwtVerifier
from app.cli import token as token_command
from app.config.issuers import ClaimNames

PUBLIC_URL = "http://127.0.0.1:8080"


def mint(argv: list[str], environ: dict[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="countersign")
    token_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["token", "mint", *argv])
    return token_command.run(args, environ=environ or {})


def test_minted_token_verifies_as_bob(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Mint with the service's key, then verify it with that issuer: BOB with his claims."""
    issuer = DevIssuer.load_or_create(tmp_path, public_url=PUBLIC_URL)
    code = mint(
        [
            "--email", "bob@example.com",
            "--group", "sre", "--group", "sre-leads",
            "--amr", "mfa",
            "--device-managed", "--device-tag", "disk-encrypted",
            "--ttl", "15m",
            "--data-dir", str(tmp_path),
        ]
    )  # fmt: skip
    assert code == 0
    token = capsys.readouterr().out.strip()
    verifier = JwtVerifier([issuer.trusted_issuer(ClaimNames())])
    identity = asyncio.run(verifier.verify(token))
    assert identity.email == "bob@example.com"
    assert identity.groups == frozenset({"sre", "sre-leads"})
    assert identity.amr == frozenset({"mfa"})
    assert identity.claims["device_tags"] == ("disk-encrypted",)
    assert identity.claims["exp"] - identity.claims["iat"] == 900


def test_data_dir_comes_from_the_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --data-dir, COUNTERSIGN_DATA_DIR locates the key."""
    DevIssuer.load_or_create(tmp_path, public_url=PUBLIC_URL)
    code = mint(["--email", "alice@example.com"], {"COUNTERSIGN_DATA_DIR": str(tmp_path)})
    assert code == 0
    assert capsys.readouterr().out.count(".") == 2


def test_missing_key_exits_1_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the service ever ran in dev mode, mint says to start it with `make run`."""
    assert mint(["--email", "alice@example.com", "--data-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "start the service with `make run` first" in captured.err
    assert captured.err.count("\n") == 1


def test_bad_ttl_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--ttl forever` is refused with one line."""
    DevIssuer.load_or_create(tmp_path, public_url=PUBLIC_URL)
    assert mint(["--email", "a@example.com", "--ttl", "forever", "--data-dir", str(tmp_path)]) == 2
    assert "--ttl" in capsys.readouterr().err


def test_bad_settings_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad COUNTERSIGN_* variable is reported like the service does."""
    assert mint(["--email", "a@example.com"], {"COUNTERSIGN_PUBLIC_URL": "nope"}) == 2
    assert capsys.readouterr().err.startswith("countersign: COUNTERSIGN_PUBLIC_URL:")


def test_a_token_minted_with_other_settings_is_one_the_running_service_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The service on :9090 owns DATA_DIR; a shell without its PORT (or with another
    PUBLIC_URL) still mints for the issuer that service announced."""
    service = DevIssuer.load_or_create(tmp_path, public_url="http://127.0.0.1:9090")
    environ = {"COUNTERSIGN_DATA_DIR": str(tmp_path), "COUNTERSIGN_PUBLIC_URL": "http://x.test"}
    assert mint(["--email", "alice@example.com"], environ) == 0
    token = capsys.readouterr().out.strip()
    identity = asyncio.run(JwtVerifier([service.trusted_issuer(ClaimNames())]).verify(token))
    assert identity.claims["iss"] == "http://127.0.0.1:9090/dev"
