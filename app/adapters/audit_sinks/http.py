"""The HTTP sink: a batch of records POSTed as JSON lines, signed like the webhook.

    POST <url>
    Content-Type: application/x-ndjson
    Countersign-Signature: t=<unix seconds>,v1=<HMAC-SHA256 of "<t>." + body>
    Countersign-Audit-First: <id of the first line>  (and -Last, -Count)

Any 2xx means the receiver holds every line; anything else (a 3xx too: no redirects are
followed) is a failure and the same entries are sent again. Each line carries its entry id,
so a receiver that keeps the ids it has seen drops the rare line sent twice.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Sequence

import httpx

from app.adapters.audit_sinks.base import SinkError
from app.adapters.audit_sinks.records import AuditRecord, json_lines
from app.adapters.http_errors import cause
from app.config.audit_sinks import HttpSink
from app.core.notify.signing import SIGNATURE_HEADER, signature

USER_AGENT = "Countersign"


class HttpSender:
    """POSTs batches to one receiver over a client of its own (one slow receiver holds no
    connection another sink needs)."""

    def __init__(
        self, config: HttpSink, *, timeout: float, now: Callable[[], float] = time.time
    ) -> None:
        self._url = config.url.get_secret_value()
        self._secret = config.secret.get_secret_value().encode()
        self._now = now
        self._timeout = timeout
        self._verify: ssl.SSLContext | bool = True
        if config.ca_file is not None:
            self._verify = ssl.create_default_context(cafile=str(config.ca_file))
        self._client: httpx.AsyncClient | None = None

    def headers(self, records: Sequence[AuditRecord], body: bytes) -> dict[str, str]:
        """The headers of one batch, its signature included."""
        return {
            "Content-Type": "application/x-ndjson",
            "User-Agent": USER_AGENT,
            "Countersign-Audit-First": records[0].id,
            "Countersign-Audit-Last": records[-1].id,
            "Countersign-Audit-Count": str(len(records)),
            SIGNATURE_HEADER: signature(self._secret, int(self._now()), body),
        }

    async def send(self, records: Sequence[AuditRecord]) -> None:
        """POST the signed batch; the receiver holds it once it answers 2xx."""
        if not records:
            return
        body = json_lines(records)
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout), follow_redirects=False, verify=self._verify
            )
        try:
            response = await self._client.post(
                self._url, content=body, headers=self.headers(records, body)
            )
        except httpx.HTTPError as error:
            # The URL may carry a token: never part of the reason.
            raise SinkError(cause(error).replace(self._url, "the receiver")) from None
        if not response.is_success:
            raise SinkError(f"HTTP {response.status_code}")

    async def last_held(self) -> str | None:
        """Unknown: the receiver de-duplicates by id."""
        return None

    async def aclose(self) -> None:
        """Close the client (the next send opens another)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
