"""The people, policies, clock and Redis-backed service the approval workflow tests share.

ALICE the engineer asks; BOB (SRE lead) approves Grafana; CAROL and DAVE (DBA leads) approve
the database console, two of them needed (the CTO may be one); ROOT is an admin who approves
nothing; MALLORY the contractor tries what she should not.
The policies are the shipped ones under policy_rules/. Time is a clock the test moves; it
starts at the real time so that the TTLs Redis applies line up with the records.
The database console asks its approvers for a fresh MFA sign-in (reviewers_need: MFA within
15 minutes): CAROL, DAVE and the CTO signed in with MFA when the tests started (SIGNED_IN);
`signed_in` gives anyone another sign-in.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from types import MappingProxyType
from typing import Any

from redis.asyncio import Redis

from app.adapters.store import audit
from app.adapters.store.keys import AUDIT_KEY
from app.adapters.store.listing import RedisListings
from app.adapters.store.redis_grants import RedisGrantReader
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.core.approvals import Person, Scope
from app.core.context import AccessContext, Device, Identity
from app.core.decision import GrantState
from app.core.policy.compile import compile_policy_set
from app.core.policy.evaluate import first_match
from app.core.policy.policy_set import PolicySet
from app.services.approvals import ApprovalService
from app.services.policy_files import load_sources
from app.services.principal import Principal

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy_rules"
RETENTION = timedelta(days=30)
#: When the personas signed in (epoch seconds): before any test's clock starts.
SIGNED_IN = int(datetime.now(UTC).timestamp())

ALICE = Identity(
    subject="u-alice",
    email="alice@example.com",
    groups=frozenset({"engineering"}),
    amr=frozenset({"pwd", "mfa"}),
)
BOB = Identity(
    subject="u-bob",
    email="bob@example.com",
    groups=frozenset({"sre", "sre-leads"}),
    amr=frozenset({"pwd", "mfa", "hwk"}),
)
CAROL = Identity(
    subject="u-carol",
    email="carol@example.com",
    groups=frozenset({"dba", "dba-leads"}),
    amr=frozenset({"pwd", "mfa"}),
    claims=MappingProxyType({"auth_time": SIGNED_IN}),
)
DAVE = Identity(
    subject="u-dave",
    email="dave@example.com",
    groups=frozenset({"dba-leads"}),
    amr=frozenset({"pwd", "mfa"}),
    claims=MappingProxyType({"auth_time": SIGNED_IN}),
)
CTO = Identity(
    subject="u-cto",
    email="cto@example.com",
    groups=frozenset({"leadership"}),
    amr=frozenset({"pwd", "otp"}),
    claims=MappingProxyType({"auth_time": SIGNED_IN}),
)
MALLORY = Identity(
    subject="u-mallory",
    email="mallory@partner.example.net",
    groups=frozenset({"contractors"}),
    amr=frozenset({"pwd"}),
)
ROOT = Identity(subject="u-root", email="root@example.com", groups=frozenset({"admins"}))

GRAFANA_REASON = "INC-42 dashboards are blank"
DB_REASON = "CHG-1234 add an index to orders"
WIKI_REASON = "looking for the on-call runbook"

HOSTS = {
    "grafana": "grafana.example.com",
    "db-console": "db-console.example.com",
    "wiki": "wiki.example.com",
}


def shipped_policies() -> PolicySet:
    """The example policy set under policy_rules/, compiled."""
    return compile_policy_set(load_sources(POLICY_DIR))


def signed_in(identity: Identity, *, amr: set[str], at: datetime | None) -> Identity:
    """`identity` after another sign-in: these methods, at `at` (None: no auth_time claim)."""
    claims = {k: v for k, v in identity.claims.items() if k != "auth_time"}
    if at is not None:
        claims["auth_time"] = int(at.timestamp())
    return dataclasses.replace(identity, amr=frozenset(amr), claims=MappingProxyType(claims))


def person(identity: Identity) -> Principal:
    """A person signed in as themselves."""
    return Principal(identity=identity)


def at_desk(identity: Identity, application: str) -> AccessContext:
    """`identity` opening `application` from a personal laptop in France (so even an SRE
    falls through to Grafana's second-opinion policy)."""
    return AccessContext(
        host=HOSTS[application],
        path="/",
        identity=identity,
        client_ip=ip_address("192.0.2.10"),
        country="FR",
        device=Device(managed=False, tags=frozenset({"disk-encrypted"}), device_id="d-7"),
    )


class Clock:
    """A clock the test moves by hand; it starts at the real time, whole seconds."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move time forward."""
        self.now += delta


@dataclass
class World:
    """One Redis client, the store and the service over it, and the clock they share."""

    client: Any
    store: RedisWorkflowStore
    service: ApprovalService
    grants: RedisGrantReader
    clock: Clock
    policies: PolicySet

    def scope(self, who: Identity, application: str) -> Scope:
        """The scope `who` asks under from their desk: the policy that matches there."""
        app = self.policies.applications[application]
        policy = first_match(app, at_desk(who, application), now=self.clock())
        assert policy is not None, (who.user, application)
        return Scope.of(app.id, policy)

    async def hot_state(self, who: Identity, application: str) -> GrantState:
        """What forward-auth reads for `who` at their desk on `application`."""
        return await self.grants.grant_state(Person.of(who), self.scope(who, application))


def service_over(client: Any, clock: Clock, policies: PolicySet) -> World:
    """A service instance (a "replica") over its own client."""
    store = RedisWorkflowStore(client, retention=RETENTION)
    service = ApprovalService(
        policies=lambda: policies, store=store, listings=RedisListings(client), clock=clock
    )
    return World(client, store, service, RedisGrantReader(client), clock, policies)


@asynccontextmanager
async def world(
    url: str, *, clock: Clock | None = None, flush: bool = True
) -> AsyncIterator[World]:
    """A service over a fresh client to `url` (emptied first unless `flush=False`)."""
    client = Redis.from_url(url)
    try:
        if flush:
            await client.flushdb()
        yield service_over(client, clock or Clock(), shipped_policies())
    finally:
        await client.aclose()


async def audit_events(client: Any) -> list[dict[str, Any]]:
    """Every audit event, oldest first, decoded."""
    return [json.loads(fields["event"]) async for _, fields in audit.entries(client)]


async def audit_length(client: Any) -> int:
    """How many entries the audit stream holds."""
    return int(await client.xlen(AUDIT_KEY))


async def snapshot(client: Any) -> dict[str, object]:
    """Every key with its type, content and whether it has a TTL: equal snapshots mean the
    store did not change."""
    state: dict[str, object] = {}
    for raw in sorted(await client.keys("*")):
        key = raw.decode()
        kind = (await client.type(key)).decode()
        content: object
        if kind == "string":
            content = await client.get(key)
        elif kind == "zset":
            content = await client.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            content = await client.xrange(key)
        else:
            content = kind
        state[key] = (kind, content, await client.ttl(key) > 0)
    return state


# -- a workflow's worth of audit entries, and ways to tamper with them -------------------------


async def seven_entries(w: World) -> list[str]:
    """ALICE asks for Grafana (2 entries), BOB approves (3), ALICE opens the wiki (2); the
    stream ids of the 7 entries, oldest first."""
    asked = await w.service.request_access(
        person(ALICE),
        application="grafana",
        context=at_desk(ALICE, "grafana"),
        justification=GRAFANA_REASON,
        duration=None,
    )
    assert asked.request is not None
    await w.service.approve(person(BOB), asked.request.id, duration=None, comment="ok")
    await w.service.request_access(
        person(ALICE),
        application="wiki",
        context=at_desk(ALICE, "wiki"),
        justification=WIKI_REASON,
        duration=None,
    )
    return [entry_id async for entry_id, _ in audit.entries(w.client)]


async def rewrite_entry(client: Any, entry_id: str, change: dict[str, str]) -> None:
    """Edit one entry in place, keeping its id: rebuild the stream with `change` applied to
    that entry's fields (Redis cannot XADD below the newest id, so the stream is rewritten)."""
    rows = [(i, f) async for i, f in audit.entries(client)]
    await client.delete(AUDIT_KEY)
    for row_id, fields in rows:
        await client.xadd(
            AUDIT_KEY, {**fields, **change} if row_id == entry_id else fields, id=row_id
        )


async def event_of(client: Any, entry_id: str) -> dict[str, Any]:
    """The decoded event of one entry."""
    rows = await client.xrange(AUDIT_KEY, min=entry_id, max=entry_id)
    return dict(json.loads(rows[0][1][b"event"]))
