"""Approving from Slack: the settings of the interactivity endpoint (`SLACK_*`).

The endpoint is on when the signing secret is set; it then needs the bot token too (Slack
users are mapped to people through the Web API). Both are secrets: give them as
`COUNTERSIGN_SLACK_SIGNING_SECRET_FILE` / `COUNTERSIGN_SLACK_BOT_TOKEN_FILE` in production.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from app.config import values

#: (key, default, description, parser) of each setting; app.config.spec makes them Specs.
SLACK_SPECS: tuple[tuple[str, str | None, str, Callable[[object], Any]], ...] = (
    (
        "slack_signing_secret",
        None,
        "Signing secret of the Slack app (secret; use SLACK_SIGNING_SECRET_FILE); set turns "
        "on approving from Slack at /slack/interactions.",
        values.secret,
    ),
    (
        "slack_bot_token",
        None,
        "Bot token (xoxb-...) for users.info and views.open (secret; use "
        "SLACK_BOT_TOKEN_FILE); needed with SLACK_SIGNING_SECRET.",
        values.secret,
    ),
    (
        "slack_api_url",
        "https://slack.com/api",
        "Base URL of Slack's Web API (https; http only on loopback).",
        values.key_url,
    ),
    (
        "slack_user_cache_ttl",
        "10m",
        "How long a Slack user's e-mail, as users.info gave it, is remembered.",
        values.duration(),
    ),
)


class SlackSettings(BaseModel):
    """The Slack interactivity endpoint: None secrets mean it is off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    signing_secret: SecretStr | None
    bot_token: SecretStr | None
    api_url: str
    user_cache_ttl: timedelta

    @property
    def enabled(self) -> bool:
        """Whether Countersign answers Slack's interactivity requests."""
        return self.signing_secret is not None
