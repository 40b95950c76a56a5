"""`countersign notify test --channel NAME`: send a test message on one configured channel.
`countersign notify replay [--dry-run] [--channel NAME] [ID ...]`: send dead letters again."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.adapters.notify import dead_letters
from app.adapters.notify.base import DeliveryError
from app.adapters.notify.hooks import http_client
from app.adapters.notify.senders import build_sender
from app.adapters.store import local_server
from app.adapters.store.connection import connect_for
from app.cli.requests import clean
from app.config import SettingsError, load_settings
from app.config.channels import ChannelSettings
from app.config.settings import NotifySettings, RedisSettings
from app.core.notify import Delivery, Notice, Topic


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
    replay = actions.add_parser(
        "replay",
        help="send deliveries that were given up on (dead letters) again",
        description="Queue dead letters again: the service sends them with the usual retries. "
        "Without IDs, every dead letter (of --channel, when given).",
    )
    replay.add_argument("ids", nargs="*", metavar="ID", help="dead letter ids (default: all)")
    replay.add_argument("--channel", help="only this channel's dead letters")
    replay.add_argument(
        "--dry-run", action="store_true", help="list what would be sent again; change nothing"
    )
    replay.set_defaults(handler=run_replay)


def test_notice(public_url: str) -> Notice:
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
        link=public_url,
    )


def run(args: argparse.Namespace, *, environ: Mapping[str, str] | None = None) -> int:
    """Exit 0 when the message went out, 1 when it did not, 2 for bad settings or names."""
    try:
        settings = load_settings(os.environ if environ is None else environ)
    except SettingsError as exc:
        print(f"countersign: {exc}", file=sys.stderr)
        return 2
    channel = next((c for c in settings.notify.channels if c.name == args.channel), None)
    if channel is None:
        names = ", ".join(c.name for c in settings.notify.channels) or "none configured"
        print(f"countersign: no channel named {args.channel!r} ({names})", file=sys.stderr)
        return 2
    recipients = tuple(args.to) or channel.route().to
    if channel.kind == "smtp" and not recipients:
        print(
            f"countersign: channel {channel.name!r} has no `to`; give --to ADDRESS", file=sys.stderr
        )
        return 2
    try:
        asyncio.run(
            _send(settings.notify, channel, recipients, public_url=settings.server.public_url)
        )
    except DeliveryError as exc:
        print(f"countersign: channel {channel.name!r}: not delivered: {exc}", file=sys.stderr)
        return 1
    print(f"sent a test message on {channel.name} ({channel.kind.value})")
    return 0


async def _send(
    settings: NotifySettings,
    channel: ChannelSettings,
    recipients: tuple[str, ...],
    *,
    public_url: str,
) -> None:
    timeout = settings.timeout.total_seconds()
    async with http_client(timeout) as client:
        sender = build_sender(channel, client=client, timeout=timeout)
        delivery = Delivery(channel.name, channel.kind, recipients)
        delivery_id = f"test-{uuid.uuid4().hex[:12]}"
        await sender.send(test_notice(public_url), delivery, delivery_id=delivery_id)


def run_replay(args: argparse.Namespace, *, environ: Mapping[str, str] | None = None) -> int:
    """Exit 0 when every chosen dead letter was queued again (or listed, with --dry-run), 1
    when some could not be, 2 for bad settings."""
    try:
        settings = load_settings(os.environ if environ is None else environ)
    except SettingsError as exc:
        print(f"countersign: {exc}", file=sys.stderr)
        return 2
    configured = settings.redis.url.get_secret_value() if settings.redis.url else None
    try:
        url = local_server.redis_url(configured, Path(settings.server.data_dir))
    except local_server.NoLocalServerError as exc:
        print(f"countersign: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_replay(settings.redis, url, args))


async def _replay(settings: RedisSettings, url: str, args: argparse.Namespace) -> int:
    client = connect_for(settings, url=url, timeout=max(settings.timeout.total_seconds(), 2.0))
    try:
        letters = await dead_letters.read(client, channel=args.channel)
        if args.ids:
            wanted = set(args.ids)
            unknown = wanted - {letter.id for letter in letters}
            for letter_id in sorted(unknown):
                print(f"countersign: no dead letter {clean(letter_id)}", file=sys.stderr)
            letters = [letter for letter in letters if letter.id in wanted]
            if unknown:
                return 1
        failed = 0
        now = time.time()
        for letter in letters:
            line = (
                f"{letter.id}  {clean(letter.channel)}  {clean(letter.topic or '-')}  "
                f"{clean(letter.request_id or '-')}  after {letter.attempts} tries: "
                f"{clean(letter.problem, 80)}"
            )
            if args.dry_run:
                print(f"would send again: {line}")
                continue
            outcome = await dead_letters.replay(client, letter, now=now)
            if outcome == "queued":
                print(f"queued again: {line}")
            else:
                failed += 1
                why = "its outbox entry is gone" if outcome == "gone" else "already replayed"
                print(f"countersign: not queued ({why}): {line}", file=sys.stderr)
        if not letters:
            print("no dead letters")
        return 1 if failed else 0
    finally:
        await client.aclose()
