"""Escalation and break-glass against a real Redis, several replicas at once: N sweeping
replicas escalate a request (and report an overdue break-glass review) once; escalation racing
a late review, and a break-glass review racing a revocation, each leave one consistent story
in the record, the audit log and the outbox."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from app.adapters.store.keys import (
    BREAK_GLASS_OVERDUE_INDEX,
    BREAK_GLASS_UNREVIEWED_INDEX,
    ESCALATION_INDEX,
    OUTBOX_KEY,
)
from app.adapters.store.listing import RedisListings
from app.adapters.store.redis_grants import RedisGrantReader
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.core.approvals import ApprovalError, ErrorCode, GrantStatus, Person, RequestStatus, Scope
from app.core.approvals.emergency_records import Verdict
from app.core.context import Identity
from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.evaluate import first_match
from app.core.policy.policy_set import PolicySet
from app.services.approvals import ApprovalService
from app.services.emergency import EmergencyService
from app.services.errors import NotVisibleError
from app.services.principal import Principal
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import (
    ALICE,
    CAROL,
    CTO,
    ROOT,
    Clock,
    at_desk,
    audit_events,
    person,
)

pytestmark = pytest.mark.redis

POLICY = """\
application: {id: db-console, name: DB console, hosts: [db-console.example.com]}
policies:
  - name: DBA second opinion
    action: allow
    include: [{email_domain: example.com}]
    approval:
      approvers: [{group: dba-leads}]
      pending_ttl: 4h
      escalate_after: 30m
      escalate_to: [{email: cto@example.com}]
    break_glass: {who: [{group: oncall}], max_duration: 1h, review_within: 24h}
"""
POLICIES = compile_policy_set([Source("apps/db.yaml", POLICY)])
ONCALL_ALICE = dataclasses.replace(ALICE, groups=frozenset({"engineering", "oncall"}))
REASON = "INC-42 the primary is down"
#: Replicas: threads, each with its own event loop, so that WATCH (not the in-process turn
#: taking of one store) is what keeps them apart.
REPLICAS = 8
ROUNDS = 12


@dataclasses.dataclass
class Replica:
    """One replica's services over its own client."""

    client: Any
    approvals: ApprovalService
    emergency: EmergencyService
    grants: RedisGrantReader


def replica_over(client: Any, clock: Clock, policies: PolicySet = POLICIES) -> Replica:
    """The services of one replica over `client`."""
    store = RedisWorkflowStore(client, retention=timedelta(days=30))
    return Replica(
        client,
        ApprovalService(
            policies=lambda: policies, store=store, listings=RedisListings(client), clock=clock
        ),
        EmergencyService(policies=lambda: policies, store=store, clock=clock),
        RedisGrantReader(client),
    )


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def in_replicas(
    url: str, calls: list[Callable[[Replica], Awaitable[Any]]], clock: Clock
) -> list[Any]:
    """Run each call in its own replica (thread, event loop, client), all released together;
    the results (or the ApprovalError raised) in order."""
    start = threading.Barrier(len(calls))

    def one(call: Callable[[Replica], Awaitable[Any]]) -> Any:
        async def go() -> Any:
            client = Redis.from_url(url)
            try:
                await client.ping()
                start.wait(timeout=10)
                try:
                    return await call(replica_over(client, clock))
                except ApprovalError as refused:
                    return refused.code
            finally:
                await client.aclose()

        return asyncio.run(go())

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


def on(url: str, clock: Clock, call: Callable[[Replica], Awaitable[Any]]) -> Any:
    """Run `call` in one replica of its own."""
    return in_replicas(url, [call], clock)[0]


async def ask(r: Replica) -> str:
    """ALICE asks for the database console; the request id."""
    outcome = await r.approvals.request_access(
        person(ALICE),
        application="db-console",
        context=at_desk(ALICE, "db-console"),
        justification=REASON,
        duration=None,
    )
    assert outcome.request is not None
    return outcome.request.id


async def glass(r: Replica) -> str:
    """ALICE, on call, breaks the glass; the grant id."""
    outcome = await r.emergency.break_glass(
        person(ONCALL_ALICE),
        application="db-console",
        context=at_desk(ONCALL_ALICE, "db-console"),
        justification=REASON,
        duration=None,
    )
    assert outcome.created
    return outcome.grant.id


def flush(url: str) -> None:
    """Empty the server."""
    on(url, Clock(), lambda r: r.client.flushdb())


def events(url: str) -> list[dict[str, Any]]:
    """Every audit event, oldest first."""
    return on(url, Clock(), lambda r: audit_events(r.client))


def outbox_types(url: str) -> list[str]:
    """The event type of every outbox entry, oldest first."""

    async def read(r: Replica) -> list[str]:
        rows = await r.client.xrange(OUTBOX_KEY)
        return [json.loads(fields[b"event"])["type"] for _, fields in rows]

    return on(url, Clock(), read)


def test_many_replicas_sweeping_escalate_a_request_once(server: RedisServer) -> None:
    """Eight replicas sweep the same due request at once: one `request_escalated` in the audit
    log and one in the outbox, and the request leaves the escalation index."""
    flush(server.url)
    clock = Clock()
    request_id = on(server.url, clock, ask)
    clock.advance(timedelta(minutes=30))
    swept = in_replicas(server.url, [lambda r: r.emergency.sweep()] * REPLICAS, clock)
    assert sum(escalated for escalated, _ in swept) == 1
    assert [e["type"] for e in events(server.url)].count("request_escalated") == 1
    assert outbox_types(server.url).count("request_escalated") == 1
    record = on(server.url, clock, lambda r: r.approvals.get_request(person(ALICE), request_id))
    assert record.escalation.escalated_at == clock()
    assert on(server.url, clock, lambda r: r.client.zcard(ESCALATION_INDEX)) == 0


def test_a_sweep_before_the_delay_escalates_nothing(server: RedisServer) -> None:
    """A minute early, nothing is written and the request stays indexed."""
    flush(server.url)
    clock = Clock()
    on(server.url, clock, ask)
    clock.advance(timedelta(minutes=29))
    assert on(server.url, clock, lambda r: r.emergency.sweep()) == (0, 0)
    assert "request_escalated" not in [e["type"] for e in events(server.url)]
    assert on(server.url, clock, lambda r: r.client.zcard(ESCALATION_INDEX)) == 1


def test_the_fallback_approver_reviews_only_after_the_escalation(server: RedisServer) -> None:
    """Before the sweep the CTO is told "not found"; after it, the CTO's approval issues the
    grant, which the hot path then finds."""
    flush(server.url)
    clock = Clock()
    request_id = on(server.url, clock, ask)
    clock.advance(timedelta(minutes=30))

    async def cto_approves(r: Replica) -> Any:
        try:
            return await r.approvals.approve(person(CTO), request_id, duration=None, comment=None)
        except NotVisibleError:
            return "not-found"

    assert on(server.url, clock, cto_approves) == "not-found"
    on(server.url, clock, lambda r: r.emergency.sweep())
    approved = on(server.url, clock, cto_approves)
    assert approved.status is RequestStatus.APPROVED
    scope = Scope.of("db-console", _policy(ALICE, clock))
    state = on(server.url, clock, lambda r: r.grants.grant_state(Person.of(ALICE), scope))
    assert state.grant_expires_at is not None


def test_escalation_racing_a_late_review_tells_one_story(server: RedisServer) -> None:
    """CAROL approves just as a replica sweeps, many times over: the request is approved every
    time, at most one `request_escalated` is written, and never after the approval."""
    flush(server.url)
    clock = Clock()
    request_ids = [on(server.url, clock, ask_as(n)) for n in range(ROUNDS)]
    clock.advance(timedelta(minutes=30))
    calls: list[Callable[[Replica], Awaitable[Any]]] = []
    for request_id in request_ids:
        calls.append(
            lambda r, i=request_id: r.approvals.approve(
                person(CAROL), i, duration=None, comment=None
            )
        )
        calls.append(lambda r: r.emergency.sweep())
    in_replicas(server.url, calls, clock)
    log = events(server.url)
    for request_id in request_ids:
        story = [e["type"] for e in log if e["request_id"] == request_id]
        assert story.count("request_approved") == 1, story
        assert story.count("request_escalated") <= 1, story
        if "request_escalated" in story:
            assert story.index("request_escalated") < story.index("request_approved"), story
    assert on(server.url, clock, lambda r: r.client.zcard(ESCALATION_INDEX)) == 0


def test_break_glass_opens_access_at_once_and_awaits_its_review(server: RedisServer) -> None:
    """The hot path lets ALICE in at once; /metrics' counts show one use awaiting review; past
    the deadline many sweeping replicas report it overdue once; CAROL's review clears it."""
    flush(server.url)
    clock = Clock()
    grant_id = on(server.url, clock, glass)
    scope = Scope.of("db-console", _policy(ONCALL_ALICE, clock))
    state = on(server.url, clock, lambda r: r.grants.grant_state(Person.of(ONCALL_ALICE), scope))
    assert state.grant_id == grant_id
    assert on(server.url, clock, lambda r: r.emergency.counts()) == (1, 0)
    clock.advance(timedelta(hours=24))
    swept = in_replicas(server.url, [lambda r: r.emergency.sweep()] * REPLICAS, clock)
    assert sum(overdue for _, overdue in swept) == 1
    assert [e["type"] for e in events(server.url)].count("break_glass_review_overdue") == 1
    assert on(server.url, clock, lambda r: r.emergency.counts()) == (1, 1)
    assert on(server.url, clock, lambda r: r.client.zcard(BREAK_GLASS_OVERDUE_INDEX)) == 0
    judged = on(
        server.url,
        clock,
        lambda r: r.emergency.review(person(CAROL), grant_id, justified=True, comment=None),
    )
    assert judged.break_glass.verdict is Verdict.JUSTIFIED
    assert on(server.url, clock, lambda r: r.emergency.counts()) == (0, 0)
    assert on(server.url, clock, lambda r: r.client.zcard(BREAK_GLASS_UNREVIEWED_INDEX)) == 0


def test_every_channel_hears_break_glass_from_the_outbox(server: RedisServer) -> None:
    """`break_glass_used` is written to the outbox in the same MULTI as the grant."""
    flush(server.url)
    on(server.url, Clock(), glass)
    assert outbox_types(server.url)[:2] == ["break_glass_used", "grant_issued"]


def test_not_justified_ends_access_on_the_hot_path(server: RedisServer) -> None:
    """CAROL judges a live use not justified: revoked, and forward-auth stops letting ALICE in."""
    flush(server.url)
    clock = Clock()
    grant_id = on(server.url, clock, glass)
    judged = on(
        server.url,
        clock,
        lambda r: r.emergency.review(person(CAROL), grant_id, justified=False, comment="no"),
    )
    assert judged.status is GrantStatus.REVOKED
    scope = Scope.of("db-console", _policy(ONCALL_ALICE, clock))
    state = on(server.url, clock, lambda r: r.grants.grant_state(Person.of(ONCALL_ALICE), scope))
    assert state.grant_id is None


def test_break_glass_review_racing_a_revocation_revokes_once(server: RedisServer) -> None:
    """CAROL's "not justified" and an admin's revocation of the same use at once, many times
    over: one `grant_revoked` and one `break_glass_reviewed` per use, whatever the order."""
    flush(server.url)
    clock = Clock()
    admin = Principal(identity=ROOT, is_admin=True)
    grant_ids = []
    for n in range(ROUNDS):
        grant_ids.append(on(server.url, clock, glass_as(n)))
    calls: list[Callable[[Replica], Awaitable[Any]]] = []
    for grant_id in grant_ids:
        calls.append(
            lambda r, g=grant_id: r.emergency.review(
                person(CAROL), g, justified=False, comment=None
            )
        )
        calls.append(lambda r, g=grant_id: r.approvals.revoke(admin, g, reason="incident over"))
    outcomes = in_replicas(server.url, calls, clock)
    assert {o for o in outcomes if isinstance(o, ErrorCode)} <= {ErrorCode.GRANT_NOT_ACTIVE}
    log = events(server.url)
    for grant_id in grant_ids:
        story = [e["type"] for e in log if e["grant_id"] == grant_id]
        assert story.count("grant_revoked") == 1, story
        assert story.count("break_glass_reviewed") == 1, story


def ask_as(n: int) -> Callable[[Replica], Awaitable[str]]:
    """Engineer `n` asks for the database console."""
    who = Identity(f"u-eng{n}", f"eng{n}@example.com", frozenset({"engineering"}))

    async def call(r: Replica) -> str:
        outcome = await r.approvals.request_access(
            person(who),
            application="db-console",
            context=at_desk(who, "db-console"),
            justification=REASON,
            duration=None,
        )
        assert outcome.request is not None
        return outcome.request.id

    return call


def glass_as(n: int) -> Callable[[Replica], Awaitable[str]]:
    """Engineer `n`, on call, breaks the glass."""
    who = Identity(f"u-eng{n}", f"eng{n}@example.com", frozenset({"engineering", "oncall"}))

    async def call(r: Replica) -> str:
        outcome = await r.emergency.break_glass(
            person(who),
            application="db-console",
            context=at_desk(who, "db-console"),
            justification=REASON,
            duration=None,
        )
        return outcome.grant.id

    return call


def _policy(who: Identity, clock: Clock) -> Any:
    app = POLICIES.applications["db-console"]
    policy = first_match(app, at_desk(who, "db-console"), now=clock())
    assert policy is not None
    return policy


def test_an_extension_request_escalates_like_any_request(server: RedisServer) -> None:
    """ALICE, approved, asks for more time; nobody reviews it for `escalate_after`: one sweep
    escalates the extension request too, and the CTO may then approve it."""
    flush(server.url)
    clock = Clock()
    request_id = on(server.url, clock, ask)
    approved = on(
        server.url,
        clock,
        lambda r: r.approvals.approve(person(CAROL), request_id, duration=None, comment=None),
    )
    assert approved.grant_id is not None

    async def extend(r: Replica) -> str:
        asked, created = await r.approvals.request_extension(
            person(ALICE),
            approved.grant_id,
            context=at_desk(ALICE, "db-console"),
            justification=REASON,
            duration=None,
        )
        assert created
        return asked.id

    extension_id = on(server.url, clock, extend)
    clock.advance(timedelta(minutes=30))
    assert on(server.url, clock, lambda r: r.emergency.sweep())[0] == 1
    record = on(server.url, clock, lambda r: r.approvals.get_request(person(ALICE), extension_id))
    assert record.escalation.escalated_at == clock()
    extended = on(
        server.url,
        clock,
        lambda r: r.approvals.approve(person(CTO), extension_id, duration=None, comment=None),
    )
    assert extended.status is RequestStatus.APPROVED
