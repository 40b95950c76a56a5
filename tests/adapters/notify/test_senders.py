"""Each channel sender against a real receiver on loopback: a webhook receiver that checks the
signature, a Slack-compatible receiver, and an aiosmtpd SMTP server (plain, and STARTTLS with
AUTH)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from app.adapters.notify.base import DeliveryError, Sender
from app.adapters.notify.hooks import http_client
from app.adapters.notify.senders import build_sender
from app.config.channels import ChannelSettings, SlackChannel, SmtpChannel, WebhookChannel
from app.core.notify import ChannelKind, Delivery, Notice, Topic
from tests.core.notify.notices import NASTY_REASON, notice_of
from tests.support.receivers import HttpReceiver, SmtpReceiver, self_signed

SECRET = "whsec-test-secret"
NOTICE = notice_of(Topic.REQUEST_SUBMITTED, justification=NASTY_REASON)


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    """A webhook receiver that accepts only correctly signed deliveries."""
    receiver = HttpReceiver(secret=SECRET.encode()).start()
    yield receiver
    receiver.stop()


def webhook(url: str) -> WebhookChannel:
    return WebhookChannel(
        name="hook", kind=ChannelKind.WEBHOOK, url=SecretStr(url), secret=SecretStr(SECRET)
    )


def mailer(port: int, **changes: object) -> SmtpChannel:
    values: dict[str, object] = {
        "name": "mail",
        "kind": ChannelKind.SMTP,
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "Countersign <countersign@example.com>",
    }
    values.update(changes)
    return SmtpChannel.model_validate(values)


def send(
    channel: ChannelSettings, notice: Notice = NOTICE, recipients: tuple[str, ...] = ()
) -> None:
    """Send one notice on `channel`; raises DeliveryError when it does not go through."""

    async def go() -> None:
        async with http_client(5.0) as client:
            sender: Sender = build_sender(channel, client=client, timeout=5.0)
            delivery = Delivery(channel.name, channel.kind, recipients)
            await sender.send(notice, delivery, delivery_id="1714990000000-0")

    asyncio.run(go())


def test_the_webhook_receiver_verifies_the_signature(hook: HttpReceiver) -> None:
    """A correctly signed JSON body arrives, with the event and delivery id in headers."""
    send(webhook(hook.url))
    (got,) = hook.received
    assert hook.bad_signatures == 0
    assert got.headers["Countersign-Event"] == "request_submitted"
    assert got.headers["Countersign-Delivery"] == "1714990000000-0"
    body = got.json()
    assert body["justification"] == NASTY_REASON
    assert body["requester"] == {"user": "alice@example.com", "email": "alice@example.com"}


def test_a_wrong_secret_is_refused_by_the_receiver(hook: HttpReceiver) -> None:
    """The receiver answers 401 to a bad signature, which is a failed delivery."""
    channel = webhook(hook.url).model_copy(update={"secret": SecretStr("not-the-secret")})
    with pytest.raises(DeliveryError, match="HTTP 401"):
        send(channel)
    assert hook.bad_signatures == 1


def test_a_receiver_error_is_a_failed_delivery(hook: HttpReceiver) -> None:
    """A 500 is retried later, not taken for success."""
    hook.status = 500
    with pytest.raises(DeliveryError, match="HTTP 500"):
        send(webhook(hook.url))


def test_redirects_are_not_followed(hook: HttpReceiver) -> None:
    """A 3xx fails: a channel cannot be bounced to another address."""
    hook.status = 302
    with pytest.raises(DeliveryError, match="HTTP 302"):
        send(webhook(hook.url))
    assert hook.tries == 1


def test_a_receiver_that_is_down_is_a_failed_delivery() -> None:
    """Connection refused says so in words, and never names the URL (it may be a secret)."""
    receiver = HttpReceiver()  # never started
    with pytest.raises(DeliveryError) as caught:
        send(webhook(receiver.url))
    assert str(caught.value) == "connection refused"
    assert "127.0.0.1" not in str(caught.value)


def test_slack_receives_escaped_blocks() -> None:
    """A Slack-compatible receiver gets blocks in which the justification cannot mention."""
    slack = HttpReceiver().start()
    try:
        channel = SlackChannel(name="sre", kind=ChannelKind.SLACK, url=SecretStr(slack.url))
        send(channel)
        (body,) = slack.bodies()
    finally:
        slack.stop()
    quoted = body["blocks"][2]["text"]["text"]
    assert "&lt;!channel&gt; &lt;script&gt;" in quoted
    assert "<!channel>" not in str(body)
    assert body["blocks"][-2]["elements"][0]["url"].endswith("/inbox/req_abc")


def test_an_email_arrives_with_text_and_html_parts() -> None:
    """aiosmtpd receives one multipart message to the recipients, with the approval link."""
    server = SmtpReceiver().start()
    try:
        send(mailer(server.port), recipients=("cto@example.com", "leads@example.com"))
        ((envelope, message),) = server.messages
    finally:
        server.stop()
    assert envelope.rcpt_tos == ["cto@example.com", "leads@example.com"]
    assert envelope.mail_from == "countersign@example.com"
    assert message["Subject"].startswith("[Countersign] alice@example.com asks for access")
    assert message["Message-ID"] == "<1714990000000-0.mail@example.com>"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "https://countersign.example.com/inbox/req_abc" in text.get_content()
    assert "&lt;script&gt;" in html.get_content()
    assert "<script>" not in html.get_content()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    return self_signed(tmp_path_factory.mktemp("tls"))


def test_starttls_and_login(certificate: tuple[Path, Path]) -> None:
    """With STARTTLS required and AUTH checked, the message arrives over a verified TLS link."""
    server = SmtpReceiver(tls=certificate).start()
    try:
        channel = mailer(
            server.port,
            security="starttls",
            username=server.username,
            password=SecretStr(server.password),
            ca_file=certificate[0],
        )
        send(channel, recipients=("cto@example.com",))
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_an_untrusted_certificate_is_refused(certificate: tuple[Path, Path]) -> None:
    """Without the CA, STARTTLS fails: the password is never sent to an unverified server."""
    server = SmtpReceiver(tls=certificate).start()
    try:
        channel = mailer(
            server.port,
            security="starttls",
            username=server.username,
            password=SecretStr(server.password),
        )
        with pytest.raises(DeliveryError):
            send(channel, recipients=("cto@example.com",))
    finally:
        server.stop()
