"""The Slack tests' world: the approval service over a real Redis, the interactivity endpoint
in-process in front of it (a "replica"), and the stand-in Slack it talks to over loopback.

Policies (written for these tests, approvers listed by e-mail, as Slack approvers must be):
`grafana` needs one of BOB or CAROL; `reports` needs two of BOB, CAROL and DAVE; `db` needs
two, and a fresh MFA sign-in to approve (step-up), which Slack cannot give.
Slack users: BOB, CAROL and DAVE as themselves (CAROL's profile e-mail in other case); NOMAIL
without an e-mail; UNCONFIRMED with an unconfirmed one; MALLORY, who approves nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis

from app.adapters.slack.routes import PATH, slack_router
from app.adapters.step_up import StepUpLinks
from app.config.slack import SlackSettings
from app.core.context import AccessContext, Identity
from app.core.policy.compile import compile_policy_set
from app.core.policy.policy_set import PolicySet
from app.services.policy_files import load_sources
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET, SlackUser, StandInSlack, form
from tests.support.slack import signed_headers as signed
from tests.support.workflow import ALICE, Clock, World, person, service_over

PUBLIC_URL = "https://countersign.example.com"
LINKS = StepUpLinks(login_url=f"{PUBLIC_URL}/login", public_url=PUBLIC_URL)
REASON = "INC-42 dashboards are blank"

BOB, CAROL, DAVE = "U0BOB", "U0CAROL", "U0DAVE"
NOMAIL, UNCONFIRMED, MALLORY = "U0NOMAIL", "U0UNCONF", "U0MALLORY"
SLACK_USERS = {
    BOB: SlackUser("bob@example.com"),
    CAROL: SlackUser("Carol@Example.com"),
    DAVE: SlackUser("dave@example.com"),
    NOMAIL: SlackUser(None),
    UNCONFIRMED: SlackUser("carol@example.com", confirmed=False),
    MALLORY: SlackUser("mallory@partner.example.net"),
}

_APP = """\
application: {{id: {id}, name: {name}, hosts: [{id}.example.com], paths: ["/"]}}
policies:
  - name: Second opinion
    action: allow
    include: [{{everyone: true}}]
    justification: {{required: true, prompt: "Why?", min_length: 8}}
    approval:
      approvers: [{approvers}]
      approvals_required: {required}
      default_duration: 1h
      max_duration: 8h
      pending_ttl: 24h
{extra}"""


def write_policies(directory: Path) -> Path:
    """The three applications of these tests, as a policy directory."""
    apps = directory / "apps"
    apps.mkdir(parents=True, exist_ok=True)
    two = "{email: bob@example.com}, {email: carol@example.com}"
    three = two + ", {email: dave@example.com}"
    files = {
        "grafana": _APP.format(id="grafana", name="Grafana", approvers=two, required=1, extra=""),
        "reports": _APP.format(id="reports", name="Reports", approvers=three, required=2, extra=""),
        "db": _APP.format(
            id="db",
            name="Database",
            approvers=three,
            required=2,
            extra="      reviewers_need: {mfa: true}\n",
        ),
    }
    for name, text in files.items():
        (apps / f"{name}.yaml").write_text(text)
    return directory


def compiled(directory: Path) -> PolicySet:
    """The policy set of `write_policies(directory)`."""
    return compile_policy_set(load_sources(write_policies(directory)))


def settings(slack: StandInSlack, **changes: Any) -> SlackSettings:
    """The SLACK_* settings pointing at the stand-in."""
    values: dict[str, Any] = {
        "signing_secret": SecretStr(SIGNING_SECRET),
        "bot_token": SecretStr(BOT_TOKEN),
        "api_url": slack.api_url,
        "user_cache_ttl": timedelta(minutes=10),
        **changes,
    }
    return SlackSettings(**values)


@dataclass
class Replica:
    """One Countersign process's worth: the service and the endpoint in front of it."""

    world: World
    http: httpx.AsyncClient

    async def post(self, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
        """POST to the interactivity endpoint; returns once the interaction was acted on
        (httpx's ASGI transport waits for the endpoint's background work)."""
        return await self.http.post(PATH, content=body, headers=dict(headers))

    async def interact(self, payload: Mapping[str, Any]) -> httpx.Response:
        """Send `payload` as Slack does, signed."""
        body = form(payload)
        return await self.post(body, signed(body))

    async def ask(
        self,
        application: str = "grafana",
        who: Identity = ALICE,
        duration: timedelta | None = None,
    ) -> str:
        """`who` asks for `application` (for `duration`, if said); the request id."""
        context = AccessContext(
            host=f"{application}.example.com",
            path="/",
            identity=who,
            client_ip=ip_address("192.0.2.10"),
        )
        outcome = await self.world.service.request_access(
            person(who),
            application=application,
            context=context,
            justification=REASON,
            duration=duration,
        )
        assert outcome.request is not None
        return outcome.request.id


@asynccontextmanager
async def replica(
    redis_url: str,
    slack: StandInSlack,
    policies: PolicySet,
    *,
    clock: Clock | None = None,
    flush: bool = True,
) -> AsyncIterator[Replica]:
    """A replica over its own Redis client (the database emptied first unless `flush=False`)."""
    client = Redis.from_url(redis_url)
    if flush:
        await client.flushdb()
    world = service_over(client, clock or Clock(), policies)
    app = FastAPI()
    app.include_router(
        slack_router(
            settings(slack), approvals=world.service, policies=lambda: policies, links=LINKS
        )
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as http,
            app.router.lifespan_context(app),
        ):
            yield Replica(world, http)
    finally:
        await client.aclose()
