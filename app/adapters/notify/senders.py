"""One sender per configured channel, by name."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import assert_never

import httpx

from app.adapters.notify.base import Sender
from app.adapters.notify.hooks import SlackSender, WebhookSender
from app.adapters.notify.smtp import SmtpSender
from app.config.channels import ChannelSettings, SlackChannel, SmtpChannel, WebhookChannel
from app.core.notify import ChannelKind

#: Makes the sender of an interactive Slack channel (app.adapters.slack.sender).
InteractiveSlack = Callable[[SlackChannel], Sender]


def build_sender(
    channel: ChannelSettings,
    *,
    client: httpx.AsyncClient,
    timeout: float,
    interactive: InteractiveSlack | None = None,
) -> Sender:
    """The sender for one channel; webhook and Slack share `client`. The match is exhaustive
    (mypy checks it), so a new kind cannot silently become some other kind's sender. A Slack
    channel with `interactive: true` gets review controls when `interactive` is given."""
    match channel:
        case WebhookChannel(kind=ChannelKind.WEBHOOK):
            secret = channel.secret.get_secret_value().encode()
            return WebhookSender(url=channel.url.get_secret_value(), secret=secret, client=client)
        case SlackChannel(kind=ChannelKind.SLACK):
            if channel.interactive and interactive is not None:
                return interactive(channel)
            return SlackSender(url=channel.url.get_secret_value(), client=client)
        case SmtpChannel(kind=ChannelKind.SMTP):
            return SmtpSender(channel, timeout=timeout)
        case unreachable:
            assert_never(unreachable)


def build_senders(
    channels: Iterable[ChannelSettings],
    *,
    client: httpx.AsyncClient,
    timeout: float,
    interactive: InteractiveSlack | None = None,
) -> dict[str, Sender]:
    """Every channel's sender."""
    return {
        c.name: build_sender(c, client=client, timeout=timeout, interactive=interactive)
        for c in channels
    }
