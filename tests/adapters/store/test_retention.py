"""Index retention against a real Redis: an index entry goes once its record is gone (ended and
past retention), never while the record lives, in every index, a bounded batch per sweep, and
replicas sweeping at once agree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from app.adapters.store.keys import (
    ACTIVE_GRANTS_INDEX,
    GRANTS_INDEX,
    PENDING_INDEX,
    REQUESTS_INDEX,
    application_grants_index,
    person_grants_index,
    person_requests_index,
    request_key,
    user_grants_index,
)
from app.adapters.store.listing import RedisListings
from app.adapters.store.redis_grants import RedisGrantReader
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.adapters.store.retention import Retention
from app.core.approvals import Grant, Person
from app.core.context import Identity
from app.services.approvals import ApprovalService
from app.services.principal import Principal
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import (
    ALICE,
    BOB,
    CAROL,
    DB_REASON,
    GRAFANA_REASON,
    ROOT,
    Clock,
    World,
    at_desk,
    person,
    shipped_policies,
)

ADMIN = Principal(identity=ROOT, is_admin=True)
#: A short retention, as an operator keeping little history would set it.
SHORT = timedelta(minutes=1)
#: The stories below happened this long ago; their records ended then, so (past the short
#: retention) Redis has already expired them.
AGO = timedelta(hours=2)


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


@asynccontextmanager
async def short_memory(url: str) -> AsyncIterator[World]:
    """A service with the short retention whose clock starts two hours ago."""
    client = Redis.from_url(url)
    try:
        await client.flushdb()
        clock = Clock(datetime.now(UTC).replace(microsecond=0) - AGO)
        store = RedisWorkflowStore(client, retention=SHORT)
        policies = shipped_policies()
        service = ApprovalService(
            policies=lambda: policies, store=store, listings=RedisListings(client), clock=clock
        )
        yield World(client, store, service, RedisGrantReader(client), clock, policies)
    finally:
        await client.aclose()


async def approved_grafana(w: World, who: Identity, *, hours: int) -> Grant:
    """`who` asks for Grafana and BOB approves it for `hours`; the grant."""
    asked = await w.service.request_access(
        person(who),
        application="grafana",
        context=at_desk(who, "grafana"),
        justification=GRAFANA_REASON,
        duration=None,
    )
    assert asked.request is not None
    await w.service.approve(
        person(BOB), asked.request.id, duration=timedelta(hours=hours), comment=None
    )
    grant = (await w.service.list_grants(person(who), mine=True)).items[0]
    assert grant.request_id == asked.request.id
    return grant


async def members(client: Redis, index: str) -> set[str]:
    """The ids an index lists."""
    return {m.decode() for m in await client.zrange(index, 0, -1)}


async def trim_until(w: World, done: Callable[[], Awaitable[bool]], *, sweeps: int = 20) -> None:
    """Sweep (the store's trim, as the sweeper calls it) until `done()` holds, at most `sweeps`
    times: each sweep is one bounded step."""
    for _ in range(sweeps):
        await w.store.trim(datetime.now(UTC))
        if await done():
            return
    raise AssertionError(f"not trimmed after {sweeps} sweeps")


def test_an_active_grant_that_started_before_the_retention_stays_listed(
    server: RedisServer,
) -> None:
    """CAROL's 8-hour Grafana grant began two hours ago, longer ago than the one-minute
    retention: it is still active, so trimming keeps it in GET /grants (all, hers, active)."""

    async def go() -> None:
        async with short_memory(server.url) as w:
            grant = await approved_grafana(w, CAROL, hours=8)
            ended = await approved_grafana(w, ALICE, hours=1)
            await w.service.revoke(person(ALICE), ended.id, reason="done")

            async def ended_is_gone() -> bool:
                return ended.id not in await members(w.client, GRANTS_INDEX)

            await trim_until(w, ended_is_gone)
            listed = {g.id for g in (await w.service.list_grants(ADMIN)).items}
            assert grant.id in listed
            mine = await w.service.list_grants(person(CAROL), mine=True)
            assert [g.id for g in mine.items] == [grant.id]
            active = await w.service.list_grants(ADMIN, application="grafana", active=True)
            assert [g.id for g in active.items] == [grant.id]

    asyncio.run(go())


def test_entries_of_records_past_retention_leave_every_index(server: RedisServer) -> None:
    """ALICE's Grafana request and grant ended two hours ago and Redis expired them: their
    entries leave the global, per-person and per-user indexes."""

    async def go() -> None:
        async with short_memory(server.url) as w:
            grant = await approved_grafana(w, ALICE, hours=1)
            await w.service.revoke(person(ALICE), grant.id, reason="done")
            assert await w.store.load_grant(grant.id) is None  # expired with its retention
            alice = Person.of(ALICE)
            where = {
                REQUESTS_INDEX: grant.request_id,
                person_requests_index(alice): grant.request_id,
                GRANTS_INDEX: grant.id,
                person_grants_index(alice): grant.id,
                user_grants_index(ALICE.user): grant.id,
            }
            for index, member in where.items():
                assert member in await members(w.client, index), index

            async def all_gone() -> bool:
                return all(
                    [member not in await members(w.client, i) for i, member in where.items()]
                )

            await trim_until(w, all_gone)

    asyncio.run(go())


def test_a_pending_request_created_before_the_retention_stays_everywhere(
    server: RedisServer,
) -> None:
    """ALICE's database request, asked two hours ago, is still pending: it stays in the global,
    per-person and pending indexes, and in her "mine" listing."""

    async def go() -> None:
        async with short_memory(server.url) as w:
            asked = await w.service.request_access(
                person(ALICE),
                application="db-console",
                context=at_desk(ALICE, "db-console"),
                justification=DB_REASON,
                duration=None,
            )
            assert asked.request is not None
            ended = await approved_grafana(w, CAROL, hours=1)
            await w.service.revoke(person(CAROL), ended.id, reason="done")

            async def ended_is_gone() -> bool:
                return ended.request_id not in await members(w.client, REQUESTS_INDEX)

            await trim_until(w, ended_is_gone)
            for index in (REQUESTS_INDEX, person_requests_index(Person.of(ALICE)), PENDING_INDEX):
                assert asked.request.id in await members(w.client, index), index
            mine = await w.service.list_requests(person(ALICE), mine=True)
            assert [r.id for r in mine.items] == [asked.request.id]

    asyncio.run(go())


def test_entries_left_behind_in_pending_active_and_application_indexes_go(
    server: RedisServer,
) -> None:
    """Entries naming no record (left by an earlier release or a hand edit) in the pending,
    active and per-application indexes go; the live grant's entries stay."""

    async def go() -> None:
        async with short_memory(server.url) as w:
            grant = await approved_grafana(w, CAROL, hours=8)
            app_index = application_grants_index("grafana")
            old = (datetime.now(UTC) - timedelta(days=3)).timestamp()
            for index in (PENDING_INDEX, ACTIVE_GRANTS_INDEX, app_index):
                await w.client.zadd(index, {"left-behind": old})

            async def left_gone() -> bool:
                return all(
                    [
                        "left-behind" not in await members(w.client, index)
                        for index in (PENDING_INDEX, ACTIVE_GRANTS_INDEX, app_index)
                    ]
                )

            await trim_until(w, left_gone)
            assert grant.id in await members(w.client, app_index)
            assert grant.id in await members(w.client, ACTIVE_GRANTS_INDEX)

    asyncio.run(go())


async def seed(client: Redis, *, live: int, gone: int) -> tuple[set[str], set[str]]:
    """`live` requests with records and `gone` without, all listed in the requests index with
    scores far older than the retention, the live ones first (lowest scores)."""
    base = (datetime.now(UTC) - timedelta(days=30)).timestamp()
    live_ids = {f"req_live{n:03}" for n in range(live)}
    gone_ids = {f"req_gone{n:03}" for n in range(gone)}
    for n, request_id in enumerate(sorted(live_ids) + sorted(gone_ids)):
        await client.zadd(REQUESTS_INDEX, {request_id: base + n})
    for request_id in live_ids:
        await client.set(request_key(request_id), "{}")
    return live_ids, gone_ids


def test_each_sweep_trims_a_bounded_batch_and_the_next_one_goes_on(server: RedisServer) -> None:
    """With a batch of 10, 25 gone entries take three sweeps (10, 10, 5), not one."""

    async def go() -> list[int]:
        client = Redis.from_url(server.url)
        try:
            await client.flushdb()
            await seed(client, live=0, gone=25)
            retention = Retention(client, records=SHORT, audit_log=timedelta(days=1), batch=10)
            left = []
            for _ in range(3):
                await retention.trim(datetime.now(UTC))
                left.append(int(await client.zcard(REQUESTS_INDEX)))
            return left
        finally:
            await client.aclose()

    assert asyncio.run(go()) == [15, 5, 0]


def test_old_live_entries_in_front_do_not_stall_trimming(server: RedisServer) -> None:
    """Fifteen live records older than the retention sit below ten gone ones; with a batch of
    10 the sweeps step past them: the gone entries go, the live ones stay."""

    async def go() -> None:
        client = Redis.from_url(server.url)
        try:
            await client.flushdb()
            live, _ = await seed(client, live=15, gone=10)
            retention = Retention(client, records=SHORT, audit_log=timedelta(days=1), batch=10)
            for _ in range(5):
                await retention.trim(datetime.now(UTC))
            assert await members(client, REQUESTS_INDEX) == live
        finally:
            await client.aclose()

    asyncio.run(go())


def test_replicas_trimming_at_once_agree(server: RedisServer) -> None:
    """Three replicas sweep the same indexes at once, many times: every gone entry goes, every
    live one stays, and no sweep fails."""

    async def go() -> None:
        clients = [Redis.from_url(server.url) for _ in range(3)]
        try:
            await clients[0].flushdb()
            live, _ = await seed(clients[0], live=40, gone=120)
            replicas = [
                Retention(c, records=SHORT, audit_log=timedelta(days=1), batch=15) for c in clients
            ]

            async def sweeps(retention: Retention) -> None:
                for _ in range(12):
                    await retention.trim(datetime.now(UTC))

            await asyncio.gather(*(sweeps(r) for r in replicas))
            assert await members(clients[0], REQUESTS_INDEX) == live
        finally:
            for c in clients:
                await c.aclose()

    asyncio.run(go())
