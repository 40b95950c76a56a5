"""Setting up a service token: `countersign token service` makes one, the config file lists its
SHA-256, and the API accepts it; a bad entry stops start-up naming it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from app.adapters.dev.issuer import DevIssuer
from app.bootstrap import build, prepare_process
from app.cli import token as token_command
from app.config import SettingsError, load_settings
from tests.adapters.api.v1.world import Api, settings_for
from tests.support.redis_server import RedisServer

Captured = pytest.CaptureFixture[str]


def make_token(capsys: Captured, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="countersign")
    token_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["token", "service", *argv])
    code = token_command.run_service(args)
    out = capsys.readouterr().out.splitlines()
    return code, out[0] if out else "", out[1] if len(out) > 1 else ""


def load(tmp_path: Path, entries: object) -> None:
    config = tmp_path / "countersign.yaml"
    config.write_text(yaml.safe_dump({"service_tokens": entries}))
    load_settings({"COUNTERSIGN_CONFIG": str(config)})


def test_a_made_token_works_once_its_entry_is_configured(
    tmp_path: Path, server: RedisServer, capsys: Captured
) -> None:
    """The printed entry, pasted into the config file, makes the printed token work."""
    code, secret, entry = make_token(capsys, "--name", "chatops", "--scope", "requests:read")
    assert code == 0
    assert secret.startswith("cst_")
    config = tmp_path / "chatops.yaml"
    config.write_text(f"service_tokens:\n  {entry}\n")
    settings = settings_for(tmp_path, server.url, COUNTERSIGN_CONFIG=str(config))
    assert prepare_process(settings) is None
    api = Api(
        settings=settings,
        app=build(settings),
        issuer=DevIssuer.load(tmp_path, public_url=settings.server.public_url),
        redis_url=server.url,
    )
    try:
        response = api.get("/api/v1/access-requests", headers={"authorization": f"Bearer {secret}"})
    finally:
        api.loop.close()
    assert response.status_code == 200
    assert secret not in config.read_text()


def test_each_made_token_is_new(capsys: Captured) -> None:
    """Two runs, two different tokens."""
    first = make_token(capsys, "--name", "a", "--scope", "audit:read")[1]
    second = make_token(capsys, "--name", "a", "--scope", "audit:read")[1]
    assert first != second


def test_a_bad_name_is_refused(capsys: Captured) -> None:
    """Names appear in the audit log: spaces and slashes are refused (exit 2)."""
    assert make_token(capsys, "--name", "ci bot/1", "--scope", "audit:read")[0] == 2


def test_an_unknown_scope_stops_start_up(tmp_path: Path) -> None:
    """`requests:write` does not exist; the error names the entry and suggests a scope."""
    with pytest.raises(SettingsError, match=r"service_tokens\[0\]\.scopes .*requests:read"):
        load(tmp_path, [{"name": "bot", "sha256": "a" * 64, "scopes": ["requests:reed"]}])


def test_a_digest_that_is_not_sha256_stops_start_up(tmp_path: Path) -> None:
    """Only a 64-hex-digit SHA-256 is accepted (a token pasted by mistake is refused)."""
    with pytest.raises(SettingsError, match=r"service_tokens\[0\]\.sha256"):
        load(tmp_path, [{"name": "bot", "sha256": "cst_oops", "scopes": ["audit:read"]}])


def test_two_tokens_with_one_name_stop_start_up(tmp_path: Path) -> None:
    """Names must tell tokens apart in the audit log."""
    entries = [
        {"name": "bot", "sha256": "a" * 64, "scopes": ["audit:read"]},
        {"name": "bot", "sha256": "b" * 64, "scopes": ["audit:read"]},
    ]
    with pytest.raises(SettingsError, match=r"service_tokens\[1\]\.name .*used twice"):
        load(tmp_path, entries)


def test_an_unknown_key_stops_start_up(tmp_path: Path) -> None:
    """A misspelt key is named, with a suggestion."""
    with pytest.raises(SettingsError, match="did you mean scopes"):
        load(tmp_path, [{"name": "bot", "sha256": "a" * 64, "scope": ["audit:read"]}])
