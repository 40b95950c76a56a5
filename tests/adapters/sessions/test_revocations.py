"""Ending sessions across replicas against a real Redis-compatible server: sign-out on one
replica is refused on another, checks fall back to Redis while the subscription is down, a
Redis that cannot answer refuses sessions, and admins end every session of a person."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import Response

from app.adapters.identity.errors import TokenProblem
from app.adapters.sessions.keys import SessionKeys
from app.adapters.sessions.revocations import SessionRevocations
from app.adapters.store.audit import AuditQuery, read_page
from app.core.approvals.person import Person
from app.core.context import Identity
from tests.adapters.sessions.support import ALICE, BOB, COOKIE, IDP, Clock, Replica, write_key
from tests.support.redis_server import RedisServer, RedisServerFactory

WAIT = 5.0


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One server for this module."""
    return redis_server_factory()


@pytest.fixture
def keys(tmp_path: Path) -> SessionKeys:
    return SessionKeys.from_files([write_key(tmp_path / "key.pem")])


@asynccontextmanager
async def replicas(
    url: str, keys: SessionKeys, count: int = 2, *, retry: float = 0.05
) -> AsyncIterator[list[Replica]]:
    """`count` replicas on one Redis, each following the channel, all live before the body."""
    clock = Clock()
    made: list[Replica] = []
    clients: list[Redis] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        for _ in range(count):
            client = Redis.from_url(url)
            clients.append(client)
            replica = Replica(keys, client=client, clock=clock)
            replica.revocations = replica.sessions._revocations = SessionRevocations(  # type: ignore[misc]
                client, clock=clock, retry_interval=retry
            )
            made.append(replica)
            tasks.append(asyncio.create_task(replica.revocations.run()))
        for replica in made:
            await until(replica.revocations, lambda r=replica: r.revocations.live)
        yield made
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with pytest.raises(asyncio.CancelledError):
                await task
        for client in clients:
            await client.aclose()


async def until(revocations: SessionRevocations, predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        await revocations.wait_for(predicate)


def run(url: str, scenario: Callable[[], Awaitable[None]]) -> None:
    async def go() -> None:
        client = Redis.from_url(url)
        await client.flushdb()
        await client.aclose()
        await scenario()

    asyncio.run(go())


def request_with(token: str) -> Request:
    return Request({"type": "http", "headers": [(b"cookie", f"{COOKIE}={token}".encode())]})


def test_sign_out_on_one_replica_is_refused_on_another(
    server: RedisServer, keys: SessionKeys
) -> None:
    """ALICE signs out through replica A; replica B refuses her session from memory."""

    async def scenario() -> None:
        async with replicas(server.url, keys) as (a, b):
            token = a.sessions.issue(ALICE, sid="sid-alice")
            assert await b.check(token) == ("u-alice", None)
            response = Response()
            await a.sessions.end(request_with(token), response)
            assert 'countersign_session=""' in response.headers["set-cookie"]
            await until(b.revocations, lambda: b.revocations.applied >= 1)
            assert await b.check(token) == (None, TokenProblem.SESSION_ENDED.value)
            assert await a.check(token) == (None, TokenProblem.SESSION_ENDED.value)
            assert b.revocations.redis_checks == 0

    run(server.url, scenario)


def test_an_ordinary_allow_reads_no_redis(server: RedisServer, keys: SessionKeys) -> None:
    """While following the channel, accepting a session costs no Redis read."""

    async def scenario() -> None:
        async with replicas(server.url, keys, count=1) as (a,):
            token = a.sessions.issue(ALICE, sid="sid-alice")
            for _ in range(3):
                assert await a.check(token) == ("u-alice", None)
            assert a.revocations.redis_checks == 0

    run(server.url, scenario)


def test_a_replica_started_later_loads_earlier_sign_outs(
    server: RedisServer, keys: SessionKeys
) -> None:
    """A sign-out made before replica B started is refused by B once it follows the channel."""

    async def scenario() -> None:
        async with replicas(server.url, keys, count=1) as (a,):
            token = a.sessions.issue(ALICE, sid="sid-early")
            await a.sessions.end(request_with(token), Response())
            async with replicas(server.url, keys, count=1) as (b,):
                assert await b.check(token) == (None, TokenProblem.SESSION_ENDED.value)
                assert b.revocations.redis_checks == 0

    run(server.url, scenario)


def test_lost_subscription_falls_back_to_redis_and_still_refuses(
    server: RedisServer, keys: SessionKeys
) -> None:
    """With B's pub/sub connection killed, B reads Redis for every session check and refuses."""

    async def scenario() -> None:
        async with replicas(server.url, keys, retry=60.0) as (a, b):
            token = a.sessions.issue(ALICE, sid="sid-alice")
            admin = Redis.from_url(server.url)
            await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            await admin.aclose()
            await until(b.revocations, lambda: not b.revocations.live)
            await a.sessions.end(request_with(token), Response())
            assert await b.check(token) == (None, TokenProblem.SESSION_ENDED.value)
            assert b.revocations.redis_checks == 1
            other = a.sessions.issue(BOB, sid="sid-bob")
            assert await b.check(other) == ("u-bob", None)

    run(server.url, scenario)


def test_resubscribing_reloads_what_was_missed(server: RedisServer, keys: SessionKeys) -> None:
    """A sign-out published while B was not subscribed is in B's memory after it resubscribes."""

    async def scenario() -> None:
        async with replicas(server.url, keys, retry=0.2) as (a, b):
            token = a.sessions.issue(ALICE, sid="sid-alice")
            reloads = b.revocations.reloads
            admin = Redis.from_url(server.url)
            await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            await admin.aclose()
            await until(b.revocations, lambda: not b.revocations.live)
            await a.sessions.end(request_with(token), Response())
            await until(b.revocations, lambda: b.revocations.live)
            assert b.revocations.reloads == reloads + 1
            checks = b.revocations.redis_checks
            assert await b.check(token) == (None, TokenProblem.SESSION_ENDED.value)
            assert b.revocations.redis_checks == checks

    run(server.url, scenario)


def test_redis_down_refuses_sessions(
    redis_server_factory: RedisServerFactory, keys: SessionKeys
) -> None:
    """When Redis stops answering, a session can no longer be checked and is refused."""
    doomed = redis_server_factory()

    async def scenario() -> None:
        async with replicas(doomed.url, keys, count=1, retry=60.0) as (a,):
            token = a.sessions.issue(ALICE, sid="sid-alice")
            assert await a.check(token) == ("u-alice", None)
            doomed.stop()
            await until(a.revocations, lambda: not a.revocations.live)
            assert await a.check(token) == (None, TokenProblem.SESSION_UNCHECKABLE.value)

    asyncio.run(scenario())


def test_providers_bearer_tokens_are_not_looked_up(server: RedisServer, keys: SessionKeys) -> None:
    """Only sessions consult the deny-list: the guard does not cover other issuers' identities."""

    async def scenario() -> None:
        async with replicas(server.url, keys, count=1) as (a,):
            identity = await a.verifier.verify(a.sessions.issue(ALICE, sid="sid-alice"))
            assert a.sessions.covers(identity)
            assert not a.sessions.covers(
                Identity(subject="u-alice", issuer=IDP, claims={"iss": IDP})
            )

    run(server.url, scenario)


def test_admin_ends_every_session_of_a_person(server: RedisServer, keys: SessionKeys) -> None:
    """BOB ends ALICE's sessions: both of hers are refused on every replica, BOB's still pass,
    a session she starts afterwards passes, and the audit log records it."""

    async def scenario() -> None:
        async with replicas(server.url, keys) as (a, b):
            laptop = a.sessions.issue(ALICE, sid="sid-laptop")
            phone = b.sessions.issue(ALICE, sid="sid-phone")
            bobs = a.sessions.issue(BOB, sid="sid-bob")
            await a.sessions.end_all(Person(IDP, "u-alice"), actor="bob@example.com")
            await until(b.revocations, lambda: b.revocations.applied >= 1)
            for replica in (a, b):
                assert await replica.check(laptop) == (None, TokenProblem.SESSION_ENDED.value)
                assert await replica.check(phone) == (None, TokenProblem.SESSION_ENDED.value)
                assert await replica.check(bobs) == ("u-bob", None)
            a.clock.now += 1
            fresh = a.sessions.issue(ALICE, sid="sid-fresh")
            assert await b.check(fresh) == ("u-alice", None)
            client = Redis.from_url(server.url)
            entries, _ = await read_page(client, AuditQuery(type="sessions_revoked"))
            await client.aclose()
            assert len(entries) == 1
            assert entries[0].event is not None
            assert entries[0].event["actor"] == "bob@example.com"
            assert entries[0].event["data"] == {"issuer": IDP, "subject": "u-alice"}

    run(server.url, scenario)


def test_signing_out_a_forged_cookie_denies_nothing(
    server: RedisServer, keys: SessionKeys, tmp_path: Path
) -> None:
    """A cookie that does not verify is cleared, and no session id reaches the deny-list."""

    async def scenario() -> None:
        async with replicas(server.url, keys, count=1) as (a,):
            forged = Replica(SessionKeys.from_files([write_key(tmp_path / "m.pem")]))
            token = forged.sessions.issue(ALICE, sid="sid-victim")
            response = Response()
            await a.sessions.end(request_with(token), response)
            assert "Max-Age=0" in response.headers["set-cookie"]
            client = Redis.from_url(server.url)
            assert await client.zcard("cs:{cs}:sessions:denied") == 0
            await client.aclose()

    run(server.url, scenario)
