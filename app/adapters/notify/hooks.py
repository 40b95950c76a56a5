"""Webhook and Slack senders: JSON over HTTPS through one shared httpx client.

No redirects are followed (a 3xx is a failure, so a channel cannot be bounced elsewhere); any
2xx is success. Errors name the exception class or status, never the URL: Slack's URL is its
credential.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx

from app.adapters.http_errors import cause
from app.adapters.notify.base import DeliveryError
from app.core.notify import (
    SIGNATURE_HEADER,
    Delivery,
    Notice,
    signature,
    slack_message,
    webhook_body,
)

USER_AGENT = "Countersign"


def http_client(timeout: float) -> httpx.AsyncClient:
    """The client webhook and Slack deliveries share."""
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False)


async def _post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> None:
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as error:
        # The URL may be a secret (a Slack webhook's is): never part of the reason.
        raise DeliveryError(cause(error).replace(url, "the receiver")) from None
    if not response.is_success:
        raise DeliveryError(f"HTTP {response.status_code}")


class WebhookSender:
    """The generic webhook: the notice as JSON, signed with HMAC-SHA256 (see core.notify)."""

    def __init__(
        self,
        *,
        url: str,
        secret: bytes,
        client: httpx.AsyncClient,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._secret = secret
        self._client = client
        self._now = now

    async def send(self, notice: Notice, delivery: Delivery, *, delivery_id: str) -> None:
        """POST the signed body."""
        del delivery
        body = webhook_body(notice, delivery_id=delivery_id)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Countersign-Event": notice.topic.value,
            "Countersign-Delivery": delivery_id,
            SIGNATURE_HEADER: signature(self._secret, int(self._now()), body),
        }
        await _post(self._client, self._url, body, headers)


class SlackSender:
    """A Slack incoming webhook: blocks with every user-supplied value escaped."""

    def __init__(self, *, url: str, client: httpx.AsyncClient) -> None:
        self._url = url
        self._client = client

    async def send(self, notice: Notice, delivery: Delivery, *, delivery_id: str) -> None:
        """POST the message."""
        del delivery, delivery_id
        body = json.dumps(slack_message(notice), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        await _post(self._client, self._url, body, headers)
