"""A running `countersign serve` (dev mode) for the tests of the CLI's API commands
(tests/cli), with dev tokens and a few calls to set the scene."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from app.adapters.dev.issuer import DevIssuer
from app.config.issuers import ClaimNames
from tests.support.countersign import RunningCountersign

POLICY_DIR = Path(__file__).resolve().parents[4] / "policy_rules"
REASON = "INC-4242 dashboards for the outage"


@dataclass(frozen=True, slots=True)
class Person:
    """Who a dev token speaks for."""

    email: str
    groups: tuple[str, ...]
    device_managed: bool = True


ALICE = Person("alice@example.com", ("engineering",))
BOB = Person("bob@example.com", ("sre", "sre-leads"))
BOB_UNMANAGED = Person("bob@example.com", ("sre", "sre-leads"), device_managed=False)
MALLORY = Person("mallory@partner.example.net", ("contractors",), device_managed=False)


@dataclass
class Service:
    """The service and a way to act on it directly (to set up what the CLI then reads)."""

    running: RunningCountersign

    @property
    def url(self) -> str:
        """The API base URL."""
        return self.running.base_url

    def token(self, who: Person) -> str:
        """A dev token for `who`."""
        issuer = DevIssuer.load(self.running.data_dir, public_url=self.running.public_url)
        return issuer.mint(
            email=who.email,
            now=time.time(),
            ttl=timedelta(minutes=10),
            claims=ClaimNames(),
            groups=who.groups,
            amr=("pwd", "mfa"),
            device_managed=who.device_managed,
        )

    def call(self, method: str, path: str, who: Person, **kwargs: Any) -> Any:
        """One API call as `who`; the decoded answer (fails the test on an error)."""
        response = httpx.request(
            method,
            f"{self.url}{path}",
            headers={"authorization": f"Bearer {self.token(who)}"},
            timeout=10,
            **kwargs,
        )
        assert response.is_success, response.text
        return response.json()

    def ask(self, who: Person = ALICE) -> dict[str, Any]:
        """`who` asks for Grafana (a new request, or the open one). A grant still in force from
        an earlier test is revoked by BOB first: asking again would only return it."""
        outcome = self._ask(who)
        if outcome["request"] is None and outcome["grant"] is not None:
            self.call("DELETE", f"/api/v1/grants/{outcome['grant']['id']}", BOB)
            outcome = self._ask(who)
        request: dict[str, Any] = outcome["request"]
        return request

    def _ask(self, who: Person) -> dict[str, Any]:
        answer: dict[str, Any] = self.call(
            "POST",
            "/api/v1/access-requests",
            who,
            json={"application": "grafana", "justification": REASON},
        )
        return answer

    def grant(self, who: Person = ALICE) -> dict[str, Any]:
        """`who` asks and BOB approves: the grant."""
        request = self.ask(who)
        approved = self.call("POST", f"/api/v1/access-requests/{request['id']}/approve", BOB)
        grant: dict[str, Any] = self.call("GET", f"/api/v1/grants/{approved['grant_id']}", who)
        return grant
