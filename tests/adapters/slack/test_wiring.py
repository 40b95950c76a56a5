"""The notifier builds the interactive sender for a Slack channel with `interactive: true`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import SecretStr

from app.adapters.notify.hooks import SlackSender, http_client
from app.adapters.notify.senders import build_sender
from app.adapters.slack.sender import InteractiveSlackSender, interactive_senders
from app.config.channels import SlackChannel
from tests.adapters.slack.harness import LINKS, compiled
from tests.support.workflow import Clock, service_over


def test_an_interactive_slack_channel_gets_the_interactive_sender(tmp_path: Path) -> None:
    """`interactive: true` gets review controls; a plain Slack channel keeps the plain sender."""
    policies = compiled(tmp_path)
    url = SecretStr("https://hooks.slack.com/services/T/B/x")

    async def go() -> None:
        async with http_client(5.0) as client:
            store = service_over(None, Clock(), policies).store
            make = interactive_senders(
                client, records=store, policies=lambda: policies, links=LINKS
            )
            on = SlackChannel(name="on", url=url, interactive=True)
            off = SlackChannel(name="off", url=url)
            built = build_sender(on, client=client, timeout=5.0, interactive=make)
            assert isinstance(built, InteractiveSlackSender)
            plain = build_sender(off, client=client, timeout=5.0, interactive=make)
            assert isinstance(plain, SlackSender)

    asyncio.run(go())
