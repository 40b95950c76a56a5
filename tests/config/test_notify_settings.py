"""The `notifications:` section of the config file: channels, their secrets, and every mistake
reported at once on one line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from app.config import Settings, SettingsError, load_settings
from app.core.notify import ROUTABLE, ChannelKind, Topic

CHANNELS = """
notifications:
  - name: ops
    kind: webhook
    url: https://hooks.example.com/countersign
    secret_env: OPS_HOOK_SECRET
    applications: [grafana, db-console]
  - name: sre
    kind: slack
    url_file: {slack_file}
    events: [request_submitted, request_expiring]
  - name: mail
    kind: smtp
    host: smtp.example.com
    username: countersign
    password: hunter2
    from: Countersign <countersign@example.com>
    to: leads@example.com
    notify_requester: true
"""


def from_file(tmp_path: Path, text: str, **env: str) -> Settings:
    path = tmp_path / "countersign.yaml"
    path.write_text(text)
    return load_settings({"COUNTERSIGN_CONFIG": str(path), **env})


def problem(tmp_path: Path, text: str, **env: str) -> str:
    with pytest.raises(SettingsError) as caught:
        from_file(tmp_path, text, **env)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def channels(tmp_path: Path) -> Settings:
    slack_file = tmp_path / "slack-url"
    slack_file.write_text("https://hooks.slack.com/services/T0/B0/XYZ\n")
    return from_file(tmp_path, CHANNELS.format(slack_file=slack_file), OPS_HOOK_SECRET="whsec-ops")


def test_no_section_means_no_channels() -> None:
    """Notifications are off until a channel is configured."""
    assert load_settings({}).notify.channels == ()


def test_defaults_of_the_notify_settings() -> None:
    """Eight tries, 5 s doubling to 15 min, 10 s per delivery, warnings 15 min ahead."""
    settings = load_settings({}).notify
    assert settings.max_attempts == 8
    assert (settings.retry_base, settings.retry_max) == (
        timedelta(seconds=5),
        timedelta(minutes=15),
    )
    assert settings.timeout == timedelta(seconds=10)
    assert settings.expiry_warning == timedelta(minutes=15)


def test_expiry_warnings_can_be_turned_off() -> None:
    """NOTIFY_EXPIRY_WARNING=0."""
    settings = load_settings({"COUNTERSIGN_NOTIFY_EXPIRY_WARNING": "0"})
    assert settings.notify.expiry_warning == timedelta(0)


def test_channels_are_read_in_order(tmp_path: Path) -> None:
    """Each entry becomes a channel of its kind."""
    ops, sre, mail = channels(tmp_path).notify.channels
    assert [(c.name, c.kind) for c in (ops, sre, mail)] == [
        ("ops", ChannelKind.WEBHOOK),
        ("sre", ChannelKind.SLACK),
        ("mail", ChannelKind.SMTP),
    ]


def test_secrets_come_from_the_environment_or_a_file(tmp_path: Path) -> None:
    """secret_env reads a variable; url_file reads a file without its trailing newline."""
    ops, sre, mail = channels(tmp_path).notify.channels
    assert ops.secret is not None
    assert ops.secret.get_secret_value() == "whsec-ops"
    assert sre.url is not None
    assert sre.url.get_secret_value() == "https://hooks.slack.com/services/T0/B0/XYZ"
    assert mail.password is not None
    assert "hunter2" not in repr(mail)


def test_applications_and_events_default_to_all(tmp_path: Path) -> None:
    """Unlisted applications mean every one; unlisted events mean every event."""
    ops, sre, _ = channels(tmp_path).notify.channels
    assert ops.applications == frozenset({"grafana", "db-console"})
    assert ops.topics == ROUTABLE
    assert sre.applications is None
    assert sre.topics == frozenset({Topic.REQUEST_SUBMITTED, Topic.REQUEST_EXPIRING})


def test_smtp_defaults(tmp_path: Path) -> None:
    """STARTTLS on port 587; a single `to` address is a list of one."""
    *_, mail = channels(tmp_path).notify.channels
    assert (mail.security, mail.port, mail.to) == ("starttls", 587, ("leads@example.com",))
    assert mail.route().notify_requester


def test_an_unset_secret_variable_stops_start_up(tmp_path: Path) -> None:
    """The message names the channel key and the variable."""
    text = (
        "notifications:\n"
        "  - {name: a, kind: webhook, url: 'https://h.example.com', secret_env: NOPE}\n"
    )
    assert "notifications[0].secret_env in" in problem(tmp_path, text)
    assert "environment variable NOPE is not set" in problem(tmp_path, text)


def test_a_webhook_needs_a_secret(tmp_path: Path) -> None:
    """Unsigned webhooks are not offered."""
    text = "notifications:\n  - {name: a, kind: webhook, url: 'https://h.example.com'}\n"
    assert "notifications[0].secret in" in problem(tmp_path, text)


def test_http_is_refused_off_loopback(tmp_path: Path) -> None:
    """Justifications and names are not sent in the clear across a network."""
    text = "notifications:\n  - {name: a, kind: slack, url: 'http://hooks.example.com/x'}\n"
    assert "must use https" in problem(tmp_path, text)


def test_every_mistake_is_reported_at_once(tmp_path: Path) -> None:
    """Unknown kind, misspelt key, unknown event and a missing sender, in one line."""
    text = """
notifications:
  - {name: a, kind: pager}
  - {name: b, kind: slack, url: 'https://hooks.example.com/x', evnets: [request_submitted]}
  - {name: c, kind: slack, url: 'https://hooks.example.com/x', events: [request_submited]}
  - {name: d, kind: smtp, host: mail.example.com, to: [x@example.com]}
"""
    message = problem(tmp_path, text)
    assert "notifications[0].kind" in message
    assert "notifications[1].evnets" in message
    assert "did you mean events?" in message
    assert "did you mean request_submitted?" in message
    assert "notifications[3].from" in message


def test_names_are_unique(tmp_path: Path) -> None:
    """Two channels with one name would be ambiguous for `notify test`."""
    text = """
notifications:
  - {name: a, kind: slack, url: 'https://hooks.example.com/x'}
  - {name: a, kind: slack, url: 'https://hooks.example.com/y'}
"""
    assert "'a' is used twice" in problem(tmp_path, text)


def test_a_password_is_never_sent_in_the_clear(tmp_path: Path) -> None:
    """security: none with a password to a remote server is refused."""
    text = """
notifications:
  - {name: m, kind: smtp, host: mail.example.com, security: none, username: u, password: p,
     from: cs@example.com, to: [x@example.com]}
"""
    assert "in the clear" in problem(tmp_path, text)


def test_an_email_channel_must_write_to_someone(tmp_path: Path) -> None:
    """No `to` and neither notify flag: nobody would ever hear."""
    text = (
        "notifications:\n  - {name: m, kind: smtp, host: mail.example.com, from: cs@example.com}\n"
    )
    assert "notifications[0].to" in problem(tmp_path, text)
