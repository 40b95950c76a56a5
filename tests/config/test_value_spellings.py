"""One set of value parsers: a boolean, a list, a port or a loopback address is written the same
way in the environment, in the config file and in its `notifications:` section."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import SettingsError, load_settings
from app.config.channels import SlackChannel, SmtpChannel

#: An e-mail channel to a team mailbox, which may also write to the requester.
MAIL = """
notifications:
  - name: mail
    kind: smtp
    host: 127.0.0.1
    from: cs@example.com
    to: [leads@example.com]
    notify_requester: {value}
"""
ACCEPTED = [
    ("true", True),
    ("TRUE", True),
    ("True", True),
    ("'true'", True),
    ("'1'", True),
    ("1", True),
    ("false", False),
    ("'FALSE'", False),
    ("'0'", False),
    ("0", False),
]
REFUSED = ["yes", "no", "on", "off", "'maybe'", "2", "'enabled'"]


def write(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "countersign.yaml"
    path.write_text(text)
    return {"COUNTERSIGN_CONFIG": str(path)}


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    return str(caught.value)


@pytest.mark.parametrize(("written", "meaning"), ACCEPTED)
def test_a_boolean_means_the_same_in_every_place(
    tmp_path: Path, written: str, meaning: bool
) -> None:
    """COUNTERSIGN_DEV, `dev:` in the file and a channel's `notify_requester:` agree."""
    from_env = load_settings({"COUNTERSIGN_DEV": written.strip("'")}).dev.enabled
    from_file = load_settings(write(tmp_path, f"dev: {written}\n")).dev.enabled
    (mail,) = load_settings(write(tmp_path, MAIL.format(value=written))).notify.channels
    assert isinstance(mail, SmtpChannel)
    assert from_env is from_file is mail.notify_requester is meaning


@pytest.mark.parametrize("written", REFUSED)
def test_other_spellings_are_refused_in_every_place(tmp_path: Path, written: str) -> None:
    """`yes`, `on` and friends stop start-up in the environment, the file and a channel alike,
    instead of meaning true in one place and being refused in another."""
    assert "COUNTERSIGN_DEV: must be true or false" in refusal(
        {"COUNTERSIGN_DEV": written.strip("'")}
    )
    assert "dev in " in refusal(write(tmp_path, f"dev: {written}\n"))
    message = refusal(write(tmp_path, MAIL.format(value=written)))
    assert "notifications[0].notify_requester in " in message
    assert "must be true or false" in message


def test_a_comma_string_is_a_list_in_every_place(tmp_path: Path) -> None:
    """`a, b` is two items for ADMIN_GROUPS and for a channel's `to` and `applications`."""
    text = """
notifications:
  - {name: mail, kind: smtp, host: 127.0.0.1, from: cs@example.com,
     to: 'a@example.com, b@example.com', applications: 'grafana, wiki'}
"""
    env = {**write(tmp_path, text), "COUNTERSIGN_ADMIN_GROUPS": "sre, security"}
    settings = load_settings(env)
    (mail,) = settings.notify.channels
    assert settings.access.admin_groups == ("sre", "security")
    assert isinstance(mail, SmtpChannel)
    assert mail.to == ("a@example.com", "b@example.com")
    assert mail.applications == frozenset({"grafana", "wiki"})


def test_a_port_may_be_written_as_text_in_every_place(tmp_path: Path) -> None:
    """`'2525'` is a port for a mail channel as COUNTERSIGN_PORT=2525 is for the server."""
    text = """
notifications:
  - {name: mail, kind: smtp, host: 127.0.0.1, port: '2525', from: cs@example.com,
     notify_requester: true}
"""
    settings = load_settings({**write(tmp_path, text), "COUNTERSIGN_PORT": "2525"})
    (mail,) = settings.notify.channels
    assert isinstance(mail, SmtpChannel)
    assert mail.port == settings.server.port == 2525


def test_every_loopback_address_may_use_plain_http(tmp_path: Path) -> None:
    """127.0.0.2 is loopback for a JWKS URL as it is for a webhook; any other host needs
    https in both places."""
    text = "notifications:\n  - {name: s, kind: slack, url: 'http://127.0.0.2:9000/hook'}\n"
    env = {
        **write(tmp_path, text),
        "COUNTERSIGN_ISSUER": "https://idp.example.com",
        "COUNTERSIGN_AUDIENCE": "countersign",
        "COUNTERSIGN_JWKS_URL": "http://127.0.0.2:9400/jwks",
    }
    settings = load_settings(env)
    assert settings.identity.issuers[0].jwks_url == "http://127.0.0.2:9400/jwks"
    assert isinstance(settings.notify.channels[0], SlackChannel)
    remote = {**env, "COUNTERSIGN_JWKS_URL": "http://10.0.0.2/jwks"}
    assert "COUNTERSIGN_JWKS_URL: must use https" in refusal(remote)


def test_a_channel_holds_only_what_its_kind_uses(tmp_path: Path) -> None:
    """A Slack channel has its URL and no SMTP fields; an e-mail channel has no URL."""
    text = """
notifications:
  - {name: sre, kind: slack, url: 'https://hooks.example.com/x'}
  - {name: mail, kind: smtp, host: 127.0.0.1, from: cs@example.com, notify_requester: true}
"""
    sre, mail = load_settings(write(tmp_path, text)).notify.channels
    assert isinstance(sre, SlackChannel)
    assert not hasattr(sre, "host")
    assert isinstance(mail, SmtpChannel)
    assert not hasattr(mail, "url")
    assert mail.port == 587


def test_the_grpc_port_is_off_unless_set(tmp_path: Path) -> None:
    """COUNTERSIGN_GRPC_PORT: unset means no gRPC listener; a port from 1 to 65535 otherwise,
    from the environment or the file."""
    assert load_settings({}).server.grpc_port is None
    assert load_settings({"COUNTERSIGN_GRPC_PORT": "9001"}).server.grpc_port == 9001
    assert load_settings(write(tmp_path, "grpc_port: 9002\n")).server.grpc_port == 9002
    assert "COUNTERSIGN_GRPC_PORT: must be from 1 to 65535, got 0" in refusal(
        {"COUNTERSIGN_GRPC_PORT": "0"}
    )
