"""`countersign notify test --channel NAME`: a test message on one configured channel."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import notify as notify_command
from tests.support.receivers import HttpReceiver, SmtpReceiver

SECRET = "whsec-cli-test"


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    """A webhook receiver that checks the signature."""
    receiver = HttpReceiver(secret=SECRET.encode()).start()
    yield receiver
    receiver.stop()


def config(tmp_path: Path, hook_url: str, smtp_port: int = 1) -> dict[str, str]:
    """An environment naming a config file with a webhook and an e-mail channel."""
    path = tmp_path / "countersign.yaml"
    path.write_text(
        f"""
notifications:
  - {{name: ops, kind: webhook, url: "{hook_url}", secret_env: OPS_SECRET}}
  - {{name: mail, kind: smtp, host: 127.0.0.1, port: {smtp_port}, security: none,
     from: cs@example.com, notify_approvers: true}}
"""
    )
    return {"COUNTERSIGN_CONFIG": str(path), "OPS_SECRET": SECRET}


def notify(argv: list[str], environ: dict[str, str]) -> int:
    parser = argparse.ArgumentParser(prog="countersign")
    notify_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["notify", "test", *argv])
    return notify_command.run(args, environ=environ)


def test_a_test_message_reaches_the_webhook(
    tmp_path: Path, hook: HttpReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """The receiver verifies the signature of a message of type `test`."""
    assert notify(["--channel", "ops"], config(tmp_path, hook.url)) == 0
    (body,) = hook.bodies()
    assert body["type"] == "test"
    assert hook.bad_signatures == 0
    assert capsys.readouterr().out == "sent a test message on ops (webhook)\n"


def test_a_test_e_mail_goes_to_the_given_address(tmp_path: Path, hook: HttpReceiver) -> None:
    """An e-mail channel without `to` needs --to; the message arrives there."""
    server = SmtpReceiver().start()
    try:
        environ = config(tmp_path, hook.url, server.port)
        assert notify(["--channel", "mail", "--to", "ops@example.com"], environ) == 0
        ((envelope, message),) = server.messages
    finally:
        server.stop()
    assert envelope.rcpt_tos == ["ops@example.com"]
    assert message["Subject"] == "[Countersign] Test message from Countersign"


def test_an_e_mail_channel_without_recipients_asks_for_one(
    tmp_path: Path, hook: HttpReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --to there is nobody to write to."""
    assert notify(["--channel", "mail"], config(tmp_path, hook.url)) == 2
    assert "give --to ADDRESS" in capsys.readouterr().err


def test_an_unknown_channel_lists_the_configured_ones(
    tmp_path: Path, hook: HttpReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2, naming the channels there are."""
    assert notify(["--channel", "nope"], config(tmp_path, hook.url)) == 2
    assert "no channel named 'nope' (ops, mail)" in capsys.readouterr().err


def test_a_receiver_that_is_down_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 1 and one line saying why, without the URL."""
    down = HttpReceiver()  # not listening
    assert notify(["--channel", "ops"], config(tmp_path, down.url)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "channel 'ops': not delivered: connection refused" in err
