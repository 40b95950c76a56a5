"""Requests through one proxy, each tagged so the backend's log shows whether it arrived.

Every request goes to 127.0.0.1:PORT with an explicit Host, never follows redirects, and
carries a fresh `X-Test-Id`; `Sent.arrived` is what the backend saw of that one request.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partialmethod
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support.backend import TEST_ID_HEADER, Backend, SeenRequest
from tests.support.proxies import RunningProxy

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
API_ACCEPT = "application/json"
SESSION_COOKIE = "countersign_session"


@dataclass(frozen=True, slots=True)
class Sent:
    """A response and the backend's record of the request (empty if it never got there)."""

    response: httpx.Response
    test_id: str
    arrived: tuple[SeenRequest, ...]

    @property
    def status(self) -> int:
        """The status the client got."""
        return self.response.status_code

    @property
    def location(self) -> str | None:
        """The Location header, if any."""
        return self.response.headers.get("location")

    def location_query(self) -> dict[str, list[str]]:
        """The decoded query of the Location URL."""
        return parse_qs(urlsplit(self.location or "").query)

    @property
    def seen(self) -> SeenRequest:
        """The one request the backend received; fails the test if it got none or several."""
        assert len(self.arrived) == 1, f"backend saw {len(self.arrived)} requests"
        return self.arrived[0]


class Gate:
    """A client bound to one proxy and the backend behind it."""

    def __init__(self, proxy: RunningProxy, backend: Backend, *, timeout: float = 10.0) -> None:
        self.proxy = proxy
        self.backend = backend
        self.client = httpx.Client(
            base_url=proxy.base_url, follow_redirects=False, timeout=timeout, trust_env=False
        )

    @property
    def name(self) -> str:
        """nginx, traefik, envoy or caddy."""
        return self.proxy.name

    def send(
        self,
        method: str,
        host: str,
        target: str,
        *,
        token: str | None = None,
        cookie: str | None = None,
        browser: bool = False,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> Sent:
        """Send `method target` for `host`; `target` goes out byte for byte (no `..` folding)."""
        test_id = uuid.uuid4().hex
        outgoing = {
            "Host": host,
            "Accept": BROWSER_ACCEPT if browser else API_ACCEPT,
            TEST_ID_HEADER: test_id,
        }
        if token is not None:
            outgoing["Authorization"] = f"Bearer {token}"
        if cookie is not None:
            outgoing["Cookie"] = f"{SESSION_COOKIE}={cookie}"
        outgoing.update(headers or {})
        request = self.client.build_request(
            method,
            "/",
            headers=outgoing,
            content=content,
            # httpx would resolve `..` itself; the raw target is what a hostile client sends.
            extensions={"target": target.encode("ascii")},
        )
        response = self.client.send(request)
        return Sent(response, test_id, tuple(self.backend.requests_for(test_id)))

    #: GET through the proxy (see `send`).
    get = partialmethod(send, "GET")

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()
