"""The wired service in-process, with one cookie jar per person, for the page tests.

The policies are the shipped ones (policy_rules/): Grafana needs a reason and one approval from
an SRE lead, the wiki a reason only. ALICE the engineer asks; BOB, SRE lead, approves; BOB on
his personal laptop must ask like anyone else (and cannot approve himself); CAROL, a DBA lead,
is no approver of Grafana; MALLORY the contractor is blocked from Grafana.
"""

from __future__ import annotations

import asyncio
import gc
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, urlencode

import httpx
import redis

from app.adapters.dev.issuer import DevIssuer
from app.bootstrap import build, prepare_process
from app.config import Settings, load_settings
from app.web import CountersignApp

T = TypeVar("T")
POLICY_DIR = Path(__file__).resolve().parents[3] / "policy_rules"
PUBLIC_URL = "http://auth.example.com:8000"
GRAFANA_RD = "https://grafana.example.com/d/incident?from=now-1h"
FORM = {"content-type": "application/x-www-form-urlencoded"}
SESSION = "countersign_session"
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@dataclass(frozen=True, slots=True)
class Person:
    """Who signs in, as their token says."""

    email: str
    groups: tuple[str, ...]
    managed: bool = True
    address: str = "203.0.113.7"
    country: str = "FR"
    amr: tuple[str, ...] = ()
    #: How long before the token was minted the person signed in (`auth_time`); None: no
    #: auth_time claim.
    signed_in_ago: timedelta | None = None


ALICE = Person("alice@example.com", ("engineering",), address="203.0.113.7", country="FR")
BOB = Person("bob@example.com", ("sre", "sre-leads"), address="198.51.100.20", country="DE")
BOB_ON_LAPTOP = Person("bob@example.com", ("sre", "sre-leads"), managed=False)
CAROL = Person("carol@example.com", ("dba", "dba-leads"))
DAVE = Person("dave@example.com", ("engineering",))
MALLORY = Person("mallory@partner.example.net", ("contractors",), managed=False)
ERIN = Person("erin@example.com", ("countersign-admins",))


class Visit:
    """One scenario: clients for each person, all talking to the same in-process service."""

    def __init__(self, site: Site, transport: httpx.ASGITransport) -> None:
        self._site = site
        self._transport = transport
        self._clients: list[httpx.AsyncClient] = []

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        """A client with no session, or with the given headers."""
        client = httpx.AsyncClient(
            transport=self._transport, base_url=PUBLIC_URL, headers=headers or {}
        )
        self._clients.append(client)
        return client

    def as_(self, person: Person) -> httpx.AsyncClient:
        """A browser signed in as `person`, behind the (trusted) proxy at 127.0.0.1."""
        return self.client(
            {
                "cookie": f"{SESSION}={self._site.token(person)}",
                "x-forwarded-for": person.address,
                "cf-ipcountry": person.country,
                "user-agent": "Mozilla/5.0 (X11; Linux x86_64) PageTest/1.0",
                "accept": "text/html",
            }
        )

    async def close(self) -> None:
        """Close every client."""
        for client in self._clients:
            await client.aclose()


class Site:
    """The whole service built by bootstrap against a real Redis (emptied first)."""

    def __init__(self, tmp_path: Path, redis_url: str) -> None:
        with redis.Redis.from_url(redis_url) as store:
            store.flushdb()
        self.settings: Settings = load_settings(
            {
                "COUNTERSIGN_DEV": "1",
                "COUNTERSIGN_REDIS_URL": redis_url,
                "COUNTERSIGN_POLICY_DIR": str(POLICY_DIR),
                "COUNTERSIGN_DATA_DIR": str(tmp_path),
                "COUNTERSIGN_PUBLIC_URL": PUBLIC_URL,
                "COUNTERSIGN_COUNTRY_HEADER": "CF-IPCountry",
                "COUNTERSIGN_POLICY_RELOAD": "false",
                "COUNTERSIGN_LOG_LEVEL": "error",
                # A loaded 2-core test machine can take longer than the 250 ms default.
                "COUNTERSIGN_REDIS_TIMEOUT": "2s",
            }
        )
        assert prepare_process(self.settings) is None
        self.app: CountersignApp = build(self.settings)
        self.issuer = DevIssuer.load(tmp_path, public_url=PUBLIC_URL)

    def token(self, person: Person) -> str:
        """A dev token for `person`, as the dev login would set it."""
        now = time.time()
        extra = None
        if person.signed_in_ago is not None:
            extra = {"auth_time": int(now - person.signed_in_ago.total_seconds())}
        return self.issuer.mint(
            email=person.email,
            now=now,
            ttl=timedelta(minutes=30),
            claims=self.settings.identity.claims,
            groups=person.groups,
            amr=person.amr,
            device_managed=person.managed,
            extra=extra,
        )

    def run(self, steps: Callable[[Visit], Awaitable[T]]) -> T:
        """Run one scenario on a fresh event loop."""

        async def scenario() -> T:
            transport = httpx.ASGITransport(app=self.app, client=("127.0.0.1", 40000))
            visit = Visit(self, transport)
            # The service's own start and stop, so its Redis connections are closed at the end.
            async with self.app.api.router.lifespan_context(self.app.api):
                try:
                    return await steps(visit)
                finally:
                    await visit.close()

        try:
            return asyncio.run(scenario())
        finally:
            # Start-up freezes what exists for the garbage collector (a process-long service
            # wants that); a test process builds many services, so let them be collected.
            gc.unfreeze()


def csrf_of(page: httpx.Response) -> str:
    """The form token on a page."""
    match = _CSRF.search(page.text)
    assert match is not None, page.text[:2000]
    return match.group(1)


def request_page(app: str = "grafana", rd: str = GRAFANA_RD) -> str:
    """The path of the request page, as forward-auth links it."""
    return f"/request?app={quote(app, safe='')}&rd={quote(rd, safe='')}"


async def post_form(
    client: httpx.AsyncClient, path: str, fields: dict[str, str], **headers: str
) -> httpx.Response:
    """A form post as a browser sends it."""
    return await client.post(path, content=urlencode(fields), headers={**FORM, **headers})


async def ask(
    client: httpx.AsyncClient,
    *,
    app: str = "grafana",
    rd: str = GRAFANA_RD,
    justification: str = "INC-2041: dashboards for the outage",
    duration: str = "1h",
) -> httpx.Response:
    """Open the request page and submit it; the answer is the post's response."""
    page = await client.get(request_page(app, rd))
    assert page.status_code == 200, page.text[:2000]
    fields = {
        "csrf": csrf_of(page),
        "app": app,
        "rd": rd,
        "justification": justification,
        "duration": duration,
    }
    return await post_form(client, "/request", fields)


def request_id_in(location: str) -> str:
    """The request id in a status page URL."""
    match = re.search(r"/request/(req_[A-Za-z0-9_-]+)", location)
    assert match is not None, location
    return match.group(1)


async def ask_for_id(client: httpx.AsyncClient, **kwargs: str) -> str:
    """Ask and return the new request's id."""
    answer = await ask(client, **kwargs)
    assert answer.status_code == 303, answer.text[:2000]
    return request_id_in(answer.headers["location"])


async def review(
    client: httpx.AsyncClient, request_id: str, decision: str, **fields: str
) -> httpx.Response:
    """Open the detail page and post `decision` (approve or deny) with its token."""
    page = await client.get(f"/inbox/{request_id}")
    assert page.status_code == 200, page.text[:2000]
    return await post_form(
        client, f"/inbox/{request_id}/{decision}", {"csrf": csrf_of(page), **fields}
    )
