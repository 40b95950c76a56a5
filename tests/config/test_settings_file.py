"""Settings from the YAML file named by COUNTERSIGN_CONFIG; the environment wins over it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from app.config import Settings, SettingsError, load_settings


def from_file(tmp_path: Path, text: str, **env: str) -> Settings:
    path = tmp_path / "countersign.yaml"
    path.write_text(text)
    return load_settings({"COUNTERSIGN_CONFIG": str(path), **env})


def error_from_file(tmp_path: Path, text: str) -> str:
    with pytest.raises(SettingsError) as caught:
        from_file(tmp_path, text)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_file_values_are_read(tmp_path: Path) -> None:
    """Keys are the variable names in lower case, with native YAML types allowed."""
    settings = from_file(
        tmp_path,
        "port: 9000\npolicy_reload: false\ntrusted_proxies: [10.0.0.0/8]\njwt_leeway: 0s\n",
    )
    assert (settings.server.port, settings.policy.reload) == (9000, False)
    assert [str(n) for n in settings.signals.trusted_proxies] == ["10.0.0.0/8"]
    assert settings.identity.leeway == timedelta(0)
    assert settings.config_file == tmp_path / "countersign.yaml"


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    """COUNTERSIGN_PORT overrides `port:` in the file."""
    assert from_file(tmp_path, "port: 9000\n", COUNTERSIGN_PORT="9100").server.port == 9100


def test_several_issuers_come_from_the_file(tmp_path: Path) -> None:
    """`issuers:` lists issuers with their own audience, keys, algorithms and claim names."""
    settings = from_file(
        tmp_path,
        """
claim_email: mail
issuers:
  - issuer: https://login.example.com
    audience: [countersign, api]
    jwks_url: https://login.example.com/keys
  - issuer: https://partners.example.org
    audience: countersign
    jwks_url: https://partners.example.org/jwks
    algorithms: [ES256]
    claims: {groups: roles}
""",
    )
    first, second = settings.identity.issuers
    assert first.audiences == ("countersign", "api")
    assert first.claims.email == "mail"
    assert second.algorithms == ("ES256",)
    assert (second.claims.groups, second.claims.email) == ("roles", "mail")


def test_environment_issuer_adds_to_the_file_issuers(tmp_path: Path) -> None:
    """The ISSUER shorthand in the environment makes one more issuer."""
    settings = from_file(
        tmp_path,
        "issuers:\n  - {issuer: https://a.example, audience: x, jwks_url: https://a.example/k}\n",
        COUNTERSIGN_ISSUER="https://b.example",
        COUNTERSIGN_AUDIENCE="x",
        COUNTERSIGN_JWKS_URL="https://b.example/k",
    )
    assert [i.issuer for i in settings.identity.issuers] == [
        "https://b.example",
        "https://a.example",
    ]


def test_issuer_configured_twice_is_refused(tmp_path: Path) -> None:
    """The same issuer twice would make routing by `iss` ambiguous."""
    entry = "  - {issuer: https://a.example, audience: x, jwks_url: https://a.example/k}\n"
    assert "is configured twice" in error_from_file(tmp_path, "issuers:\n" + entry * 2)


def test_file_issuer_without_audience_is_named(tmp_path: Path) -> None:
    """A missing audience is reported with its place in the file."""
    text = error_from_file(
        tmp_path, "issuers:\n  - {issuer: https://a.example, jwks_url: https://a.example/k}\n"
    )
    assert text.startswith("issuers[0].audience in ")
    assert text.endswith(": required")


def test_unknown_key_in_the_file_is_refused(tmp_path: Path) -> None:
    """A typo in the file is caught, with a suggestion."""
    assert "trusted_proxy in" in error_from_file(tmp_path, "trusted_proxy: 10.0.0.0/8\n")
    assert "did you mean trusted_proxies?" in error_from_file(tmp_path, "trusted_proxy: x\n")


def test_invalid_yaml_is_refused_with_its_line(tmp_path: Path) -> None:
    """A YAML syntax error names COUNTERSIGN_CONFIG and the line."""
    text = error_from_file(tmp_path, "port: 9000\nissuers: [\n")
    assert text.startswith("COUNTERSIGN_CONFIG: ")
    assert "not valid YAML at line" in text


def test_missing_config_file_is_refused(tmp_path: Path) -> None:
    """COUNTERSIGN_CONFIG naming a missing file is an error, not an empty config."""
    with pytest.raises(SettingsError, match=r"^COUNTERSIGN_CONFIG: cannot read "):
        load_settings({"COUNTERSIGN_CONFIG": str(tmp_path / "nope.yaml")})


def test_secret_file_key_in_the_file_is_read(tmp_path: Path) -> None:
    """`redis_password_file:` in the YAML reads the secret from that file."""
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    settings = from_file(tmp_path, f"redis_password_file: {secret}\n")
    assert settings.redis.password is not None
    assert settings.redis.password.get_secret_value() == "from-file"


def test_bad_file_value_names_the_key_and_file(tmp_path: Path) -> None:
    """`port: eighty` is reported as `port in <file>`."""
    text = error_from_file(tmp_path, "port: eighty\n")
    assert text.startswith(f"port in {tmp_path / 'countersign.yaml'}: must be a whole number")
