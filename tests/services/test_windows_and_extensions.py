"""Planned windows and extensions through the approval service over a real Redis: what the hot
path reads, what the audit log holds (written in the same transaction as the change), and the
races an extension runs against revocation and expiry."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

import pytest
from redis.asyncio import Redis

from app.adapters.store.keys import grant_key, grant_record_key
from app.core.approvals import (
    AccessRequest,
    ApprovalError,
    ErrorCode,
    Grant,
    GrantStatus,
    Person,
    RequestStatus,
)
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import (
    ALICE,
    BOB,
    GRAFANA_REASON,
    MALLORY,
    Clock,
    World,
    at_desk,
    audit_events,
    person,
    service_over,
    shipped_policies,
    world,
)

T = TypeVar("T")
HOUR = timedelta(hours=1)
#: Rounds of each race: enough for both orders to turn up on a loaded machine.
ROUNDS = 12


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def scenario(url: str, body: Callable[[World], Awaitable[T]]) -> T:
    """Run `body` against an emptied store with a fresh service."""

    async def go() -> T:
        async with world(url) as w:
            return await body(w)

    return asyncio.run(go())


async def ask_planned(w: World, starts_at: datetime | None, duration: timedelta = 2 * HOUR) -> str:
    """ALICE asks for Grafana from `starts_at` for `duration`: the request id."""
    outcome = await w.service.request_access(
        person(ALICE),
        application="grafana",
        context=at_desk(ALICE, "grafana"),
        justification=GRAFANA_REASON,
        duration=duration,
        starts_at=starts_at,
    )
    assert outcome.request is not None
    return outcome.request.id


async def granted(w: World, starts_at: datetime | None = None) -> Grant:
    """ALICE's request (planned from `starts_at`, else from now), approved by BOB."""
    request_id = await ask_planned(w, starts_at)
    approved = await w.service.approve(person(BOB), request_id, duration=None, comment=None)
    assert approved.grant_id is not None
    return await w.service.get_grant(person(ALICE), approved.grant_id)


async def extension(w: World, grant: Grant, duration: timedelta = HOUR) -> AccessRequest:
    """ALICE asks for `duration` more on `grant`."""
    request, created = await w.service.request_extension(
        person(ALICE),
        grant.id,
        context=at_desk(ALICE, "grafana"),
        justification="INC-42 still digging",
        duration=duration,
    )
    assert created
    return request


# -- planned windows ----------------------------------------------------------------------------


def test_a_planned_grant_is_upcoming_on_the_hot_path_until_its_start(server: RedisServer) -> None:
    """Approved now for tonight: the hot path reads the grant with its start, and asking again
    returns the upcoming grant rather than opening a second request."""

    async def body(w: World) -> None:
        tonight = w.clock() + 10 * HOUR
        grant = await granted(w, tonight)
        assert (grant.starts_at, grant.expires_at) == (tonight, tonight + 2 * HOUR)
        state = await w.hot_state(ALICE, "grafana")
        assert state.grant_id == grant.id
        assert state.grant_starts_at == tonight
        assert state.grant_expires_at == tonight + 2 * HOUR
        again = await w.service.request_access(
            person(ALICE),
            application="grafana",
            context=at_desk(ALICE, "grafana"),
            justification=GRAFANA_REASON,
            duration=None,
        )
        assert again.grant is not None
        assert again.grant.id == grant.id
        assert not again.created

    scenario(server.url, body)


def test_an_upcoming_window_is_no_grant_to_a_replica_of_the_previous_release(
    server: RedisServer,
) -> None:
    """Until it begins, a planned window's access key has no `expires_at`, which the previous
    release requires: a replica not yet upgraded reads no grant (closed), never an open one.
    A grant in force from its approval keeps the field every release reads."""

    async def body(w: World) -> None:
        planned = await granted(w, w.clock() + 10 * HOUR)
        assert planned.holder is not None
        assert planned.scope is not None
        value = json.loads(await w.client.get(grant_key(planned.holder, planned.scope)))
        assert "expires_at" not in value
        assert value["ends_at"] == planned.expires_at.timestamp()
        await w.service.revoke(person(BOB), planned.id, reason="replanned")
        now = await granted(w)
        assert now.holder is not None
        assert now.scope is not None
        value = json.loads(await w.client.get(grant_key(now.holder, now.scope)))
        assert value["expires_at"] == now.expires_at.timestamp()
        assert "ends_at" not in value
        state = await w.hot_state(ALICE, "grafana")
        assert state.grant_id == now.id

    scenario(server.url, body)


def test_a_refused_start_writes_nothing(server: RedisServer) -> None:
    """A start in the past, or beyond the policy's horizon, leaves the store as it was."""

    async def body(w: World) -> None:
        before = await w.client.dbsize()
        for when, code in (
            (w.clock() - timedelta(seconds=1), ErrorCode.START_IN_PAST),
            (w.clock() + timedelta(days=8), ErrorCode.START_TOO_FAR_AHEAD),
        ):
            with pytest.raises(ApprovalError) as refused:
                await ask_planned(w, when)
            assert refused.value.code is code
        assert await w.client.dbsize() == before

    scenario(server.url, body)


def test_a_planned_approval_writes_its_audit_entries_in_one_step(server: RedisServer) -> None:
    """The approval's `grant_issued` entry says when the window is and is marked planned."""

    async def body(w: World) -> None:
        tonight = w.clock() + 10 * HOUR
        grant = await granted(w, tonight)
        issued = [e for e in await audit_events(w.client) if e["type"] == "grant_issued"]
        assert issued[0]["grant_id"] == grant.id
        assert issued[0]["data"]["planned"] is True
        assert issued[0]["at"] < issued[0]["data"]["starts_at"]

    scenario(server.url, body)


# -- extensions ---------------------------------------------------------------------------------


def test_an_approved_extension_moves_the_grants_end_everywhere(server: RedisServer) -> None:
    """The record, the hot path's key (and its TTL) and the audit log all move together."""

    async def body(w: World) -> None:
        grant = await granted(w)
        key = grant_key(Person.of(ALICE), w.scope(ALICE, "grafana"))
        ttl_before = await w.client.pttl(key)
        asked = await extension(w, grant)
        assert asked.extends == grant.id
        done = await w.service.approve(person(BOB), asked.id, duration=None, comment="ok")
        assert done.status is RequestStatus.APPROVED
        assert done.grant_id == grant.id
        after = await w.service.get_grant(person(ALICE), grant.id)
        assert after.expires_at == grant.expires_at + HOUR
        state = await w.hot_state(ALICE, "grafana")
        assert state.grant_expires_at == grant.expires_at + HOUR
        assert await w.client.pttl(key) > ttl_before + 50 * 60 * 1000
        kinds = [e["type"] for e in await audit_events(w.client)]
        assert kinds[-3:] == ["request_reviewed", "request_approved", "grant_extended"]

    scenario(server.url, body)


def test_asking_again_returns_the_open_extension_request(server: RedisServer) -> None:
    """One open extension per grant; it does not stand for "a request is open" on the hot
    path, where the grant keeps letting ALICE in."""

    async def body(w: World) -> None:
        grant = await granted(w)
        first = await extension(w, grant)
        again, created = await w.service.request_extension(
            person(ALICE),
            grant.id,
            context=at_desk(ALICE, "grafana"),
            justification="INC-42 still digging",
            duration=HOUR,
        )
        assert (again.id, created) == (first.id, False)
        state = await w.hot_state(ALICE, "grafana")
        assert state.pending_request_id is None
        assert state.grant_id == grant.id

    scenario(server.url, body)


def test_only_the_holder_may_ask_to_extend(server: RedisServer) -> None:
    """MALLORY cannot even see ALICE's grant: "not found", nothing written."""

    async def body(w: World) -> None:
        grant = await granted(w)
        before = await w.client.dbsize()
        with pytest.raises(LookupError):
            await w.service.request_extension(
                person(MALLORY),
                grant.id,
                context=at_desk(MALLORY, "grafana"),
                justification="let me in",
                duration=None,
            )
        assert await w.client.dbsize() == before

    scenario(server.url, body)


async def _stored(client: Redis, grant_id: str) -> Grant:
    raw = await client.get(grant_record_key(grant_id))
    assert raw is not None
    return Grant.from_dict(json.loads(raw))


def on_threads(url: str, *jobs: Callable[[World], Awaitable[object]]) -> list[object]:
    """Run each job as its own replica: its own thread, event loop and client, all released
    together by a barrier once connected (so WATCH, not one loop's turn taking, keeps them
    apart). Each result is what the job returned or the exception it raised."""
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[World], Awaitable[object]]) -> object:
        async def go() -> object:
            client = Redis.from_url(url)
            try:
                await client.ping()
                start.wait(timeout=30)
                return await job(service_over(client, Clock(), shipped_policies()))
            except Exception as error:
                return error
            finally:
                await client.aclose()

        return asyncio.run(go())

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


async def approve_at(r: World, *, request_id: str, at: datetime) -> object:
    """BOB approves `request_id` on replica `r` at `at`."""
    r.clock.now = at
    return await r.service.approve(person(BOB), request_id, duration=None, comment=None)


async def revoke_at(r: World, *, grant_id: str, at: datetime) -> object:
    """BOB revokes `grant_id` on replica `r` at `at`."""
    r.clock.now = at
    return await r.service.revoke(person(BOB), grant_id, reason="incident over")


async def sweep_at(r: World, *, at: datetime) -> object:
    """Replica `r`'s sweep at `at`."""
    r.clock.now = at
    return await r.service.sweep()


#: How an approval that comes after the revoke is refused: before the revoke has lapsed the
#: request, the grant is not active; after, the request is no longer pending.
LOST_TO_A_REVOKE = frozenset(
    {ErrorCode.GRANT_NOT_ACTIVE, ErrorCode.REQUEST_NOT_PENDING, ErrorCode.REQUEST_EXPIRED}
)


def test_a_revoke_ends_the_grants_open_extension_request(server: RedisServer) -> None:
    """BOB revokes ALICE's grant while she waits for more time: the extension request stops
    waiting at once (EXPIRED, `request_expired` because `grant-not-active`), so no approver
    is left with a request whose approval could only be refused."""

    async def body(w: World) -> None:
        grant = await granted(w)
        asked = await extension(w, grant)
        await w.service.revoke(person(BOB), grant.id, reason="incident over")
        request = await w.service.get_request(person(ALICE), asked.id)
        assert request.status is RequestStatus.EXPIRED
        lapsed = [
            e
            for e in await audit_events(w.client)
            if e["type"] == "request_expired" and e["request_id"] == asked.id
        ]
        assert [e["data"]["because"] for e in lapsed] == ["grant-not-active"]
        with pytest.raises(ApprovalError) as refused:
            await w.service.approve(person(BOB), asked.id, duration=None, comment=None)
        assert refused.value.code in LOST_TO_A_REVOKE

    scenario(server.url, body)


def test_race_extension_approval_against_revocation(server: RedisServer) -> None:
    """BOB approves the extension on one replica while another revokes the grant: whichever
    wins, the grant ends REVOKED; an approval that lost is refused (`grant-not-active`, or the
    request no longer pending once the revoke has lapsed it) and the request ends EXPIRED; one
    that won is in the audit log before the revocation."""

    async def body(w: World) -> set[str]:
        seen: set[str] = set()
        for _ in range(ROUNDS):
            await w.client.flushdb()
            grant = await granted(w)
            asked = await extension(w, grant)
            approve = partial(approve_at, request_id=asked.id, at=w.clock())
            revoke = partial(revoke_at, grant_id=grant.id, at=w.clock())
            approval, revocation = await asyncio.to_thread(on_threads, server.url, approve, revoke)
            assert isinstance(revocation, Grant), revocation
            final = await _stored(w.client, grant.id)
            assert final.status is GrantStatus.REVOKED
            kinds = [e["type"] for e in await audit_events(w.client)]
            if isinstance(approval, ApprovalError):
                assert approval.code in LOST_TO_A_REVOKE, approval.code
                request = await w.service.get_request(person(ALICE), asked.id)
                assert request.status is RequestStatus.EXPIRED
                assert "grant_extended" not in kinds
                seen.add("revoked first")
            else:
                assert isinstance(approval, AccessRequest), approval
                assert kinds.index("grant_extended") < kinds.index("grant_revoked")
                seen.add("extended first")
            assert (await w.hot_state(ALICE, "grafana")).grant_id is None
        return seen

    assert scenario(server.url, body)


def test_race_extension_approval_against_expiry(server: RedisServer) -> None:
    """One replica approves the extension a second before the grant ends while another's sweep
    runs at the end: either the grant is extended and the sweep leaves it be, or it expired
    (and the extension request lapsed with it) and the approval is refused. An expired grant
    never comes back."""

    async def body(w: World) -> set[str]:
        seen: set[str] = set()
        for _ in range(ROUNDS):
            await w.client.flushdb()
            grant = await granted(w)
            asked = await extension(w, grant)
            approve = partial(
                approve_at, request_id=asked.id, at=grant.expires_at - timedelta(seconds=1)
            )
            sweep = partial(sweep_at, at=grant.expires_at)
            approval, swept = await asyncio.to_thread(on_threads, server.url, approve, sweep)
            assert isinstance(swept, tuple), swept
            final = await _stored(w.client, grant.id)
            if isinstance(approval, ApprovalError):
                assert approval.code in {ErrorCode.GRANT_NOT_ACTIVE, ErrorCode.REQUEST_NOT_PENDING}
                assert final.status is GrantStatus.EXPIRED
                assert swept[1] == 1
                seen.add("expired first")
            else:
                assert isinstance(approval, AccessRequest), approval
                assert final.status is GrantStatus.ACTIVE
                assert final.expires_at == grant.expires_at + HOUR
                assert swept[1] == 0
                seen.add("extended first")
            w.clock.advance(timedelta(seconds=1))
        return seen

    assert scenario(server.url, body)


def test_an_extension_approved_after_the_grant_expired_resurrects_nothing(
    server: RedisServer,
) -> None:
    """The sweep expired the grant, and the extension request lapsed with it: BOB's later
    approval is refused (`request-not-pending`) and the grant stays over."""

    async def body(w: World) -> None:
        grant = await granted(w)
        asked = await extension(w, grant)
        w.clock.now = grant.expires_at
        assert (await w.service.sweep())[1] == 1
        with pytest.raises(ApprovalError) as refused:
            await w.service.approve(person(BOB), asked.id, duration=None, comment=None)
        assert refused.value.code is ErrorCode.REQUEST_NOT_PENDING
        lapsed = await w.service.get_request(person(ALICE), asked.id)
        assert lapsed.status is RequestStatus.EXPIRED
        final = await _stored(w.client, grant.id)
        assert final.status is GrantStatus.EXPIRED
        assert (await w.hot_state(ALICE, "grafana")).grant_id is None

    scenario(server.url, body)
