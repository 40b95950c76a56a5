"""The idempotency store against a real Redis-compatible server: one reservation at a time, the
outcome kept, the lease given back or run out, and keys that stay in the `{cs}` slot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from redis.asyncio import Redis

from app.adapters.store.idempotency import (
    Claim,
    Outcome,
    RedisIdempotency,
    Verdict,
    record_key,
)
from tests.support.redis_server import RedisServer

T = TypeVar("T")
TTL = timedelta(hours=24)
SCOPE = ("person", "https://idp.example.com", "alice@example.com", "POST /api/v1/x")
OUTCOME = Outcome(201, (("content-type", "application/json"), ("location", "/x/1")), b'{"id":1}')


def run(server: RedisServer, use: Callable[[Redis], Awaitable[T]]) -> T:
    """Run `use` with a client on an empty database."""

    async def go() -> T:
        client = Redis.from_url(server.url)
        try:
            await client.flushdb()
            return await use(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


async def claim_of(store: RedisIdempotency, fingerprint: str = "fp") -> Claim:
    """Reserve the key; fail the test unless that gives a claim."""
    found = await store.reserve(SCOPE, "key-1", fingerprint)
    assert found.claim is not None, found
    return found.claim


def test_a_key_is_reserved_once(server: RedisServer) -> None:
    """The first reservation runs; the same request meanwhile is told how long to wait."""

    async def use(client: Redis) -> tuple[Verdict, Verdict, timedelta | None]:
        store = RedisIdempotency(client, ttl=TTL)
        first = await store.reserve(SCOPE, "key-1", "fp")
        second = await store.reserve(SCOPE, "key-1", "fp")
        return first.verdict, second.verdict, second.busy_for

    first, second, wait = run(server, use)
    assert (first, second) == (Verdict.RESERVED, Verdict.BUSY)
    assert wait is not None
    assert timedelta(0) < wait <= timedelta(seconds=10)


def test_another_request_with_the_key_is_a_mismatch(server: RedisServer) -> None:
    """Running or done, the key answers only the request it was first used for."""

    async def use(client: Redis) -> tuple[Verdict, Verdict]:
        store = RedisIdempotency(client, ttl=TTL)
        claim = await claim_of(store)
        running = await store.reserve(SCOPE, "key-1", "other")
        await store.complete(claim, OUTCOME)
        done = await store.reserve(SCOPE, "key-1", "other")
        return running.verdict, done.verdict

    assert run(server, use) == (Verdict.MISMATCH, Verdict.MISMATCH)


def test_the_outcome_is_kept_byte_for_byte(server: RedisServer) -> None:
    """Status, headers and body come back exactly as stored."""
    outcome = Outcome(409, (("content-type", "application/problem+json"),), b"\xff\x00 raw")

    async def use(client: Redis) -> Outcome | None:
        store = RedisIdempotency(client, ttl=TTL)
        assert await store.complete(await claim_of(store), outcome)
        found = await store.reserve(SCOPE, "key-1", "fp")
        assert found.verdict is Verdict.DONE
        return found.outcome

    assert run(server, use) == outcome


def test_a_given_up_attempt_lets_the_retry_run_as_a_retry(server: RedisServer) -> None:
    """After a 5xx (the outcome is unknown) the retry runs, told an attempt came before."""

    async def use(client: Redis) -> tuple[Verdict, bool | None]:
        store = RedisIdempotency(client, ttl=TTL)
        assert await store.abandon(await claim_of(store), forget=False)
        again = await store.reserve(SCOPE, "key-1", "fp")
        return again.verdict, again.claim.fresh if again.claim else None

    assert run(server, use) == (Verdict.RETRY, False)


def test_a_forgotten_attempt_leaves_no_trace(server: RedisServer) -> None:
    """An attempt that changed nothing gives the key back whole: the next use is a first use,
    even with another request."""

    async def use(client: Redis) -> Verdict:
        store = RedisIdempotency(client, ttl=TTL)
        assert await store.abandon(await claim_of(store), forget=True)
        return (await store.reserve(SCOPE, "key-1", "corrected")).verdict

    assert run(server, use) is Verdict.RESERVED


def test_a_lease_that_runs_out_lets_the_retry_run(server: RedisServer) -> None:
    """A replica that died mid-call holds the key only until its lease ends; the attempt that
    lost its lease can no longer store an outcome over the retry's."""

    async def use(client: Redis) -> tuple[bool, bool]:
        store = RedisIdempotency(client, ttl=TTL, lease=timedelta(milliseconds=100))
        lost = await claim_of(store)
        deadline = time.monotonic() + 10
        found = await store.reserve(SCOPE, "key-1", "fp")
        while found.verdict is Verdict.BUSY and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            found = await store.reserve(SCOPE, "key-1", "fp")
        assert found.verdict is Verdict.RETRY
        assert found.claim is not None
        late = await store.complete(lost, Outcome(500, (), b"late"))
        mine = await store.complete(found.claim, OUTCOME)
        return late, mine

    assert run(server, use) == (False, True)


def test_the_outcome_lives_for_the_ttl(server: RedisServer) -> None:
    """The record expires IDEMPOTENCY_TTL after the outcome was stored; the lease is gone."""

    async def use(client: Redis) -> tuple[int, int]:
        store = RedisIdempotency(client, ttl=timedelta(hours=2))
        claim = await claim_of(store)
        await store.complete(claim, OUTCOME)
        return int(await client.pttl(claim.record)), int(await client.exists(claim.lease))

    left, lease = run(server, use)
    assert timedelta(hours=2) - timedelta(minutes=5) < timedelta(milliseconds=left)
    assert lease == 0


def test_keys_are_digests_in_the_cs_slot() -> None:
    """The caller's key never appears in the Redis key, which carries the `{cs}` hash tag; a
    key of another caller or operation is another record."""
    name = record_key(SCOPE, "evil}:{other")
    assert name.startswith("cs:{cs}:idem:")
    assert "evil" not in name
    assert record_key(SCOPE, "k") != record_key((*SCOPE[:-1], "DELETE /api/v1/x"), "k")
    assert record_key(SCOPE, "k") != record_key(("token", "bot", *SCOPE[1:]), "k")
