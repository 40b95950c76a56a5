"""The SLACK_* settings and the `interactive` key of a Slack channel: secrets from a file or
the environment, never shown; the endpoint is there only when configured, and a signing
secret without a bot token stops start-up with one clear line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.adapters.slack.routes import PATH, slack_router
from app.bootstrap import build, prepare_process
from app.config import SettingsError, load_settings
from app.config.channels import SlackChannel
from tests.adapters.api.v1.world import settings_for
from tests.adapters.slack.harness import LINKS
from tests.support.redis_server import RedisServerFactory
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET


def test_the_endpoint_is_off_by_default() -> None:
    """No signing secret: approving from Slack is off."""
    settings = load_settings({})
    assert not settings.slack.enabled
    assert settings.slack.api_url == "https://slack.com/api"


def test_secrets_come_from_files_and_are_never_shown(tmp_path: Path) -> None:
    """SLACK_SIGNING_SECRET_FILE and SLACK_BOT_TOKEN_FILE are read; repr shows neither."""
    secret, token = tmp_path / "signing", tmp_path / "bot"
    secret.write_text(SIGNING_SECRET + "\n")
    token.write_text(BOT_TOKEN + "\n")
    settings = load_settings(
        {
            "COUNTERSIGN_SLACK_SIGNING_SECRET_FILE": str(secret),
            "COUNTERSIGN_SLACK_BOT_TOKEN_FILE": str(token),
        }
    )
    slack = settings.slack
    assert slack.enabled
    assert slack.signing_secret is not None
    assert slack.bot_token is not None
    assert slack.signing_secret.get_secret_value() == SIGNING_SECRET
    assert slack.bot_token.get_secret_value() == BOT_TOKEN
    assert SIGNING_SECRET not in repr(settings)
    assert BOT_TOKEN not in repr(settings)


def test_the_api_url_must_be_https_off_loopback() -> None:
    """A Web API in the clear would expose the bot token: refused, except on loopback."""
    with pytest.raises(SettingsError, match="COUNTERSIGN_SLACK_API_URL"):
        load_settings({"COUNTERSIGN_SLACK_API_URL": "http://slack.example.com/api"})
    assert load_settings({"COUNTERSIGN_SLACK_API_URL": "http://127.0.0.1:9/api"}).slack.api_url


def test_a_signing_secret_without_a_bot_token_stops_start_up() -> None:
    """The endpoint cannot map users without the bot token: one line names what is missing."""
    settings = load_settings({"COUNTERSIGN_SLACK_SIGNING_SECRET": SIGNING_SECRET})
    unused: Any = None
    with pytest.raises(SettingsError, match="COUNTERSIGN_SLACK_BOT_TOKEN: required"):
        slack_router(settings.slack, approvals=unused, policies=unused, links=LINKS)


@pytest.mark.parametrize("configured", [False, True])
def test_the_service_serves_the_endpoint_only_when_configured(
    tmp_path: Path, redis_server_factory: RedisServerFactory, configured: bool
) -> None:
    """The wired service: without SLACK_* the path is not found (404); with them, an
    unsigned call reaches the endpoint and is refused (401)."""
    server = redis_server_factory()
    extra = (
        {
            "COUNTERSIGN_SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "COUNTERSIGN_SLACK_BOT_TOKEN": BOT_TOKEN,
        }
        if configured
        else {}
    )
    settings = settings_for(tmp_path, server.url, **extra)
    assert prepare_process(settings) is None
    app = build(settings)

    async def call() -> int:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://countersign") as c:
            answer = await c.post(PATH, content=b"payload=%7B%7D")
            return answer.status_code

    assert asyncio.run(call()) == (401 if configured else 404)


def test_a_slack_channel_may_be_interactive(tmp_path: Path) -> None:
    """`interactive: true` on a Slack channel asks for review controls on its messages."""
    path = tmp_path / "countersign.yaml"
    path.write_text(
        "notifications:\n"
        "  - {name: sre, kind: slack, url: https://hooks.slack.com/services/T/B/x,"
        " interactive: true}\n"
        "  - {name: ops, kind: slack, url: https://hooks.slack.com/services/T/B/y}\n"
    )
    sre, ops = load_settings({"COUNTERSIGN_CONFIG": str(path)}).notify.channels
    assert isinstance(sre, SlackChannel)
    assert isinstance(ops, SlackChannel)
    assert sre.interactive
    assert not ops.interactive


def test_interactive_is_a_slack_key_only(tmp_path: Path) -> None:
    """A webhook channel with `interactive` is told the key is for Slack channels."""
    path = tmp_path / "countersign.yaml"
    path.write_text(
        "notifications:\n"
        "  - {name: ops, kind: webhook, url: https://hooks.example.com/x, secret: s,"
        " interactive: true}\n"
    )
    with pytest.raises(SettingsError, match=r"interactive.*unknown key for a webhook channel"):
        load_settings({"COUNTERSIGN_CONFIG": str(path)})
