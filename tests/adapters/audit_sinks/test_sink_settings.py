"""The `audit_sinks` setting: sinks of three kinds from the config file or the environment,
their defaults, and every mistake reported at once on one line without echoing a secret."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from app.config import Settings, SettingsError, load_settings
from app.config.audit_sinks import FileSink, HttpSink, SyslogSink

SINKS = """
audit_sinks:
  - name: siem
    kind: http
    url: https://siem.example.com/ingest?token=tok-123
    secret_file: {secret_file}
  - name: rsyslog
    kind: syslog
    host: logs.example.com
    ca_file: {ca_file}
    facility: local4
  - name: archive
    kind: file
    path: /var/log/countersign/audit.jsonl
    max_bytes: 10MiB
    backups: 3
    start: end
"""


def from_file(tmp_path: Path, text: str, **env: str) -> Settings:
    path = tmp_path / "countersign.yaml"
    path.write_text(text)
    return load_settings({"COUNTERSIGN_CONFIG": str(path), **env})


def problem(environ: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_no_sinks_by_default() -> None:
    """Nothing is streamed until a sink is configured; the timings have their defaults."""
    stream = load_settings({}).audit_stream
    assert stream.sinks == ()
    assert (stream.sink_batch, stream.sink_timeout, stream.sink_retry_max) == (
        100,
        timedelta(seconds=10),
        timedelta(minutes=1),
    )


def test_sinks_are_read_from_the_config_file(tmp_path: Path) -> None:
    """Each entry becomes a sink of its kind, secrets read from files, defaults filled in."""
    secret_file, ca_file = tmp_path / "siem-key", tmp_path / "ca.pem"
    secret_file.write_text("k3y-from-file\n")
    ca_file.write_text("-----BEGIN CERTIFICATE-----\n")
    text = SINKS.format(secret_file=secret_file, ca_file=ca_file)
    siem, rsyslog, archive = from_file(tmp_path, text).audit_stream.sinks
    assert isinstance(siem, HttpSink)
    assert siem.secret.get_secret_value() == "k3y-from-file"
    assert siem.start == "beginning"
    assert isinstance(rsyslog, SyslogSink)
    assert (rsyslog.transport, rsyslog.port, rsyslog.facility) == ("tls", 6514, "local4")
    assert isinstance(archive, FileSink)
    assert (archive.max_bytes, archive.backups, archive.fsync, archive.start) == (
        10 * 2**20,
        3,
        True,
        "end",
    )


def test_sinks_may_be_given_as_yaml_text_in_the_environment() -> None:
    """COUNTERSIGN_AUDIT_SINKS holds the same list as flow YAML (or JSON)."""
    environ = {
        "COUNTERSIGN_AUDIT_SINKS": '[{"name": "local", "kind": "syslog", "host": "127.0.0.1", '
        '"transport": "tcp"}]',
        "COUNTERSIGN_AUDIT_SINK_BATCH": "20",
    }
    stream = load_settings(environ).audit_stream
    (local,) = stream.sinks
    assert isinstance(local, SyslogSink)
    assert (local.port, stream.sink_batch) == (514, 20)


def test_every_mistake_is_reported_at_once_without_the_secrets() -> None:
    """Unknown keys, clear-text syslog off the host, http off loopback, a missing secret, a bad
    size and a name used twice all come back in one line; the URL's token is never shown."""
    environ = {
        "COUNTERSIGN_AUDIT_SINKS": """[
          {name: siem, kind: http, url: "http://siem.example.com/in?token=tok-123", colour: red},
          {name: siem, kind: file, path: /tmp/a.jsonl},
          {name: logs, kind: syslog, host: logs.example.com, transport: tcp, facility: locl4},
          {name: big, kind: file, path: /tmp/b.jsonl, max_bytes: 12 parsecs},
          {kind: carrier-pigeon}
        ]"""
    }
    text = problem(environ)
    assert text.startswith("COUNTERSIGN_AUDIT_SINKS: ")
    for expected in (
        "[0].colour: unknown key",
        "[0].url: must use https",
        "[0].secret: set one of secret or secret_file",
        "[1].name: 'siem' is used twice",
        "[2].transport: tcp sends in the clear",
        "[2].facility: must be one of",
        "[3].max_bytes: must be a size",
        "[4].name: required",
        "[4].kind: must be one of http, syslog, file",
    ):
        assert expected in text
    assert "tok-123" not in text


def test_a_client_certificate_needs_its_key(tmp_path: Path) -> None:
    """cert_file without key_file is refused."""
    cert = tmp_path / "client.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    environ = {
        "COUNTERSIGN_AUDIT_SINKS": f"[{{name: s, kind: syslog, host: logs.example.com, "
        f"cert_file: {cert}}}]"
    }
    assert "[0].cert_file: give both cert_file and key_file" in problem(environ)
