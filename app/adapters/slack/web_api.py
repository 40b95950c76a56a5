"""The few Slack Web API calls Countersign makes, and posts to an interaction's response URL.

`users.info` (to learn a user's e-mail), `views.open` (the deny modal) with the bot token;
the response URL needs no token. A response URL comes inside a signed payload, and is still
only posted to on Slack's hooks host or the configured API's host: the bot never sends a
message anywhere else. Errors name Slack's error code or the status, never the token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

#: Where Slack's response URLs live.
HOOKS_ORIGIN = ("https", "hooks.slack.com", 443)


class SlackApiError(RuntimeError):
    """A Web API call that failed: Slack's error code, or the HTTP status or exception class.
    `code` is Slack's own error code (`user_not_found`, ...) when Slack answered one."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class SlackUser:
    """What users.info says about a user that matters for mapping them to a person."""

    id: str
    email: str | None
    #: Slack's `is_email_confirmed`; None when the API does not say.
    email_confirmed: bool | None
    deleted: bool
    is_bot: bool


def _origin(url: str) -> tuple[str, str, int] | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return parts.scheme, parts.hostname.lower(), port


class SlackWebApi:
    """Calls Slack at `api_url` with `bot_token`, through `client` (no redirects followed)."""

    def __init__(self, *, client: httpx.AsyncClient, api_url: str, bot_token: str) -> None:
        self._client = client
        self._api_url = api_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {bot_token}"}
        self._respond_to = {HOOKS_ORIGIN, _origin(self._api_url)}

    async def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._client.post(
                f"{self._api_url}/{method}", headers=self._headers, **kwargs
            )
        except httpx.HTTPError as error:
            raise SlackApiError(f"{method}: {type(error).__name__}") from None
        if not response.is_success:
            raise SlackApiError(f"{method}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise SlackApiError(f"{method}: not JSON") from None
        if not isinstance(body, dict) or body.get("ok") is not True:
            code = body.get("error") if isinstance(body, dict) else None
            code = str(code)[:80] if code else None
            raise SlackApiError(f"{method}: {code or 'not ok'}", code=code)
        return body

    async def user(self, user_id: str) -> SlackUser:
        """users.info for `user_id` (needs the `users:read` and `users:read.email` scopes)."""
        body = await self._call("users.info", data={"user": user_id})
        raw = body.get("user")
        if not isinstance(raw, dict) or raw.get("id") != user_id:
            raise SlackApiError("users.info: no such user in the answer")
        profile = raw.get("profile") if isinstance(raw.get("profile"), dict) else {}
        email = profile.get("email") if isinstance(profile, dict) else None
        confirmed = raw.get("is_email_confirmed")
        return SlackUser(
            id=user_id,
            email=email if isinstance(email, str) and email else None,
            email_confirmed=confirmed if isinstance(confirmed, bool) else None,
            deleted=raw.get("deleted") is True,
            is_bot=raw.get("is_bot") is True,
        )

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        """views.open: show `view` (a modal) to whoever caused `trigger_id`."""
        await self._call("views.open", json={"trigger_id": trigger_id, "view": view})

    def may_respond_to(self, url: str) -> bool:
        """Whether `url` is somewhere the bot may post a response."""
        return _origin(url) in self._respond_to

    async def respond(self, url: str, message: dict[str, Any]) -> None:
        """Post `message` to an interaction's response URL (replacing the original message or,
        with `response_type: ephemeral`, telling only the person who pressed)."""
        if not self.may_respond_to(url):
            raise SlackApiError("response URL is not on Slack's hooks host")
        body = json.dumps(message, ensure_ascii=False).encode()
        try:
            response = await self._client.post(
                url, content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError as error:
            raise SlackApiError(f"response: {type(error).__name__}") from None
        if not response.is_success:
            raise SlackApiError(f"response: HTTP {response.status_code}")
