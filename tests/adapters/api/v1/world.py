"""The /api/v1 tests' world: the wired service in-process (bootstrap.build, dev mode) against a
real Redis, dev tokens for the personas, and service tokens configured in a config file.

Personas play the example policies in policy_rules/: ALICE the engineer (Grafana needs one
approval), BOB the SRE lead (approves Grafana), CAROL and DAVE (the database console's
approvers, two needed), MALLORY the contractor (the wiki only), and ERIN the Countersign admin.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis

from app.adapters.dev.issuer import DevIssuer
from app.adapters.store.keys import request_key
from app.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[4]
POLICY_DIR = ROOT / "policy_rules"
PEER = ("127.0.0.1", 4321)


@dataclass(frozen=True, slots=True)
class Persona:
    """Someone with a dev token."""

    email: str
    groups: tuple[str, ...]
    amr: tuple[str, ...] = ("pwd", "mfa")
    device_managed: bool = True
    #: How long before the token was minted the person signed in (`auth_time`); None: the
    #: token has no auth_time (a provider that does not send it).
    signed_in_ago: timedelta | None = timedelta(minutes=1)


ALICE = Persona("alice@example.com", ("engineering",))
BOB = Persona("bob@example.com", ("sre", "sre-leads"))
#: BOB on his personal laptop: no longer straight into Grafana, so he must ask like anyone.
BOB_UNMANAGED = Persona("bob@example.com", ("sre", "sre-leads"), device_managed=False)
CAROL = Persona("carol@example.com", ("dba", "dba-leads"))
DAVE = Persona("dave@example.com", ("engineering",))
MALLORY = Persona("mallory@partner.example.net", ("contractors",), ("pwd",), False)
ERIN = Persona("erin@example.com", ("countersign-admins",))


@dataclass(frozen=True, slots=True)
class ServiceToken:
    """A configured service token: the secret a tool holds, and its scopes."""

    name: str
    secret: str
    scopes: tuple[str, ...]


REVIEW_BOT = ServiceToken(
    "review-bot", "cst_review-bot-secret", ("requests:read", "requests:review")
)
READER = ServiceToken("reader", "cst_reader-secret", ("requests:read",))
AUDITOR = ServiceToken("auditor", "cst_auditor-secret", ("audit:read",))
REVOKER = ServiceToken("revoker", "cst_revoker-secret", ("requests:read", "grants:revoke"))
#: A tool that files requests for the people it acts for (a chat bot's "/access grafana").
ASKER = ServiceToken("asker", "cst_asker-secret", ("requests:read", "requests:create"))
SERVICE_TOKENS = (REVIEW_BOT, READER, AUDITOR, REVOKER, ASKER)

GRAFANA_REASON = "INC-4242 dashboards for the outage"
DB_REASON = "CHG-1234 rotate the replication user"


def config_file(directory: Path, tokens: tuple[ServiceToken, ...] = SERVICE_TOKENS) -> Path:
    """A config file listing `tokens` by their SHA-256."""
    path = directory / "countersign.yaml"
    entries = [
        {
            "name": t.name,
            "sha256": hashlib.sha256(t.secret.encode()).hexdigest(),
            "scopes": list(t.scopes),
        }
        for t in tokens
    ]
    path.write_text(json.dumps({"service_tokens": entries}))
    return path


def settings_for(directory: Path, redis_url: str, **extra: str) -> Settings:
    """Dev-mode settings for one test, with the service tokens configured (`extra` variables
    override)."""
    return load_settings(
        {
            "COUNTERSIGN_DEV": "1",
            "COUNTERSIGN_REDIS_URL": redis_url,
            "COUNTERSIGN_POLICY_DIR": str(POLICY_DIR),
            "COUNTERSIGN_POLICY_RELOAD": "false",
            "COUNTERSIGN_DATA_DIR": str(directory),
            "COUNTERSIGN_PUBLIC_URL": "http://auth.example.com:8000",
            "COUNTERSIGN_LOG_LEVEL": "error",
            # A loaded 2-core test machine can take longer than the 250 ms default.
            "COUNTERSIGN_REDIS_TIMEOUT": "2s",
            "COUNTERSIGN_CONFIG": str(config_file(directory)),
            **extra,
        }
    )


@dataclass
class Api:
    """The service in-process, called through httpx on one event loop per test."""

    settings: Settings
    app: Any
    issuer: DevIssuer
    redis_url: str
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    def token(self, who: Persona) -> str:
        """A fresh dev token for `who`, with `auth_time` as `who` says."""
        now = time.time()
        extra = None
        if who.signed_in_ago is not None:
            extra = {"auth_time": int(now - who.signed_in_ago.total_seconds())}
        return self.issuer.mint(
            email=who.email,
            now=now,
            ttl=timedelta(minutes=10),
            claims=self.settings.identity.claims,
            groups=who.groups,
            amr=who.amr,
            device_managed=who.device_managed,
            extra=extra,
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        who: Persona | None = None,
        service: ServiceToken | None = None,
        acting_for: Persona | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request as `who`, or with `service` (acting for `acting_for`)."""
        sent = dict(headers or {})
        if who is not None:
            sent["authorization"] = f"Bearer {self.token(who)}"
        if service is not None:
            sent["authorization"] = f"Bearer {service.secret}"
        if acting_for is not None:
            sent["x-countersign-user-token"] = self.token(acting_for)

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=PEER)
            async with httpx.AsyncClient(transport=transport, base_url="http://countersign") as c:
                return await c.request(method, path, headers=sent, **kwargs)

        return self.loop.run_until_complete(go())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET."""
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST."""
        return self.call("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        """DELETE."""
        return self.call("DELETE", path, **kwargs)

    def ask(
        self,
        who: Persona,
        application: str = "grafana",
        justification: str | None = GRAFANA_REASON,
        **body: Any,
    ) -> dict[str, Any]:
        """`who` asks for `application`; the new request (fails the test if there is none)."""
        response = self.post(
            "/api/v1/access-requests",
            who=who,
            json={"application": application, "justification": justification, **body},
        )
        assert response.status_code == 201, response.text
        request: dict[str, Any] = response.json()["request"]
        return request

    def approve(self, who: Persona, request_id: str, **body: Any) -> httpx.Response:
        """`who` approves."""
        return self.post(f"/api/v1/access-requests/{request_id}/approve", who=who, json=body)

    def granted(self, who: Persona = ALICE) -> dict[str, Any]:
        """ALICE asks for Grafana and BOB approves: the grant."""
        request = self.ask(who)
        approved = self.approve(BOB, request["id"])
        assert approved.status_code == 200, approved.text
        grant = self.get(f"/api/v1/grants/{approved.json()['grant_id']}", who=who)
        assert grant.status_code == 200, grant.text
        result: dict[str, Any] = grant.json()
        return result

    def age(self, request_id: str) -> None:
        """Move a stored request's pending time into the past, as if nobody answered in time."""
        client = redis.Redis.from_url(self.redis_url)
        try:
            key = request_key(request_id)
            record = json.loads(client.get(key) or b"{}")
            past = datetime.now(UTC) - timedelta(days=2)
            record["created_at"] = past.strftime("%Y-%m-%dT%H:%M:%SZ")
            record["expires_at"] = (past + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            client.set(key, json.dumps(record))
        finally:
            client.close()


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The problem document of an error response (checks its media type)."""
    assert response.headers["content-type"] == "application/problem+json", response.text
    body: dict[str, Any] = response.json()
    return body
