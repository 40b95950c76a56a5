"""One sender per configured channel, by name."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from app.adapters.notify.base import Sender
from app.adapters.notify.hooks import SlackSender, WebhookSender
from app.adapters.notify.smtp import SmtpSender
from app.core.notify import ChannelKind
from app.notify_config import ChannelSettings


def build_sender(channel: ChannelSettings, *, client: httpx.AsyncClient, timeout: float) -> Sender:
    """The sender for one channel; webhook and Slack share `client`."""
    url = channel.url.get_secret_value() if channel.url else ""
    if channel.kind is ChannelKind.WEBHOOK:
        secret = channel.secret.get_secret_value().encode() if channel.secret else b""
        return WebhookSender(url=url, secret=secret, client=client)
    if channel.kind is ChannelKind.SLACK:
        return SlackSender(url=url, client=client)
    return SmtpSender(channel, timeout=timeout)


def build_senders(
    channels: Iterable[ChannelSettings], *, client: httpx.AsyncClient, timeout: float
) -> dict[str, Sender]:
    """Every channel's sender."""
    return {c.name: build_sender(c, client=client, timeout=timeout) for c in channels}
