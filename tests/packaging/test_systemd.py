"""deploy/systemd/countersign.service: `systemd-analyze verify` finds nothing to say about it,
its hardening scores as systemd's own `security` check rates "OK", and every setting it passes
is one Countersign reads."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.packaging.settings_names import unknown_settings
from tests.packaging.tools import DEPLOY, debian_tool, run
from tests.support import components

UNIT = DEPLOY / "systemd" / "countersign.service"
INSTALLED_AT = "/opt/countersign/bin/countersign"
#: systemd-analyze security's exposure, times ten: at most 2.0 ("OK" is below 4).
EXPOSURE_THRESHOLD = "20"
HARDENING = (
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "CapabilityBoundingSet=\n",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "SystemCallFilter=@system-service",
)


def _unit_here(directory: Path, text: str | None = None) -> Path:
    """The unit with ExecStart pointing at this checkout's `countersign` (verify checks that
    the program exists)."""
    text = text if text is not None else UNIT.read_text("utf-8")
    assert INSTALLED_AT in text
    path = directory / UNIT.name
    path.write_text(text.replace(INSTALLED_AT, components.countersign()))
    return path


def _verify(path: Path) -> subprocess.CompletedProcess[str]:
    analyze = debian_tool("systemd-analyze", "systemd")
    return subprocess.run(
        [analyze, "verify", "--man=no", str(path)],
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=60,
        check=False,
    )


def test_systemd_analyze_verify_is_silent(tmp_path: Path) -> None:
    """No error and no warning (unknown keys, bad values) from `systemd-analyze verify`."""
    result = _verify(_unit_here(tmp_path))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_verify_would_report_a_misspelt_option(tmp_path: Path) -> None:
    """The check above has teeth: a misspelt hardening option is reported."""
    text = UNIT.read_text("utf-8").replace("ProtectSystem=strict", "ProtectSytem=strict")
    result = _verify(_unit_here(tmp_path, text))
    assert "Unknown key" in result.stdout + result.stderr


def test_the_hardening_rates_ok(tmp_path: Path) -> None:
    """`systemd-analyze security --offline` rates the unit's exposure at most 2.0 of 10."""
    analyze = debian_tool("systemd-analyze", "systemd")
    path = _unit_here(tmp_path)
    run([analyze, "security", "--offline=yes", f"--threshold={EXPOSURE_THRESHOLD}", str(path)])


def test_the_hardening_options_are_set() -> None:
    """The options operators look for first are there, as written."""
    text = UNIT.read_text("utf-8")
    assert [option for option in HARDENING if option not in text] == []


def test_secrets_are_credentials_and_settings_are_real() -> None:
    """Secrets come through LoadCredential (files in $CREDENTIALS_DIRECTORY, `%d`), and every
    COUNTERSIGN_* name in the unit is one Countersign reads."""
    text = UNIT.read_text("utf-8")
    assert "LoadCredential=session-key.pem:" in text
    assert "COUNTERSIGN_SESSION_KEY_FILE=%d/session-key.pem" in text
    assert unknown_settings(text) == []
