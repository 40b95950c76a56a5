"""`countersign notify test --channel NAME`: send a test message on one configured channel."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.adapters.notify.base import DeliveryError
from app.adapters.notify.hooks import http_client
from app.adapters.notify.senders import build_sender
from app.config import Settings, SettingsError, load_settings
from app.core.notify import Delivery, Notice, Topic
from app.notify_config import ChannelSettings


def register(sub: Any) -> None:
    """Add `notify test`."""
    parser = sub.add_parser("notify", help="notification channels")
    actions = parser.add_subparsers(dest="notify_command", required=True, metavar="ACTION")
    test = actions.add_parser(
        "test",
        help="send a test message on one channel",
        description="Send a test message on a channel of the `notifications:` config section.",
    )
    test.add_argument("--channel", required=True, help="the channel's name")
    test.add_argument(
        "--to", action="append", default=[], help="e-mail channels: an address (repeatable)"
    )
    test.set_defaults(handler=run)


def test_notice(settings: Settings) -> Notice:
    """What a test message says: that it is a test, with sample facts."""
    return Notice(
        topic=Topic.TEST,
        at=datetime.now(UTC),
        application="example",
        application_name="Example application",
        user="alice@example.com",
        requester_email="alice@example.com",
        justification="Checking that notifications arrive.",
        request_id="req_test",
        link=settings.public_url,
    )


def run(args: argparse.Namespace, *, environ: Mapping[str, str] | None = None) -> int:
    """Exit 0 when the message went out, 1 when it did not, 2 for bad settings or names."""
    try:
        settings = load_settings(os.environ if environ is None else environ)
    except SettingsError as exc:
        print(f"countersign: {exc}", file=sys.stderr)
        return 2
    channel = next((c for c in settings.notifications if c.name == args.channel), None)
    if channel is None:
        names = ", ".join(c.name for c in settings.notifications) or "none configured"
        print(f"countersign: no channel named {args.channel!r} ({names})", file=sys.stderr)
        return 2
    recipients = tuple(args.to) or channel.to
    if channel.kind == "smtp" and not recipients:
        print(
            f"countersign: channel {channel.name!r} has no `to`; give --to ADDRESS", file=sys.stderr
        )
        return 2
    try:
        asyncio.run(_send(settings, channel, recipients))
    except DeliveryError as exc:
        print(f"countersign: channel {channel.name!r}: not delivered: {exc}", file=sys.stderr)
        return 1
    print(f"sent a test message on {channel.name} ({channel.kind.value})")
    return 0


async def _send(settings: Settings, channel: ChannelSettings, recipients: tuple[str, ...]) -> None:
    timeout = settings.notify_timeout.total_seconds()
    async with http_client(timeout) as client:
        sender = build_sender(channel, client=client, timeout=timeout)
        delivery = Delivery(channel.name, channel.kind, recipients)
        delivery_id = f"test-{uuid.uuid4().hex[:12]}"
        await sender.send(test_notice(settings), delivery, delivery_id=delivery_id)
