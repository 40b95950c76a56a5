"""A sink's cursor and lease in a real Redis: one holder at a time, and the cursor moved only
by the holder, only from where it was read."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from redis.asyncio import Redis

from app.adapters.audit_sinks.cursor import Position, SinkCursor, lease_key
from tests.adapters.audit_sinks.harness import append, cursor_at
from tests.support.redis_server import RedisServer, RedisServerFactory

pytestmark = pytest.mark.redis
LEASE_MS = 5_000


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def run(url: str, body: Callable[[Redis], Awaitable[None]]) -> None:
    """Run `body(client)` over an emptied database."""

    async def go() -> None:
        client = Redis.from_url(url)
        try:
            await client.flushdb()
            await body(client)
        finally:
            await client.aclose()

    asyncio.run(go())


def test_one_replica_holds_the_lease_until_it_gives_it_up(server: RedisServer) -> None:
    """Replica A takes the lease; B cannot while A renews it; once A releases it, B can."""

    async def body(client: Redis) -> None:
        cursor = SinkCursor(client, "siem", start="beginning")
        assert await cursor.hold("replica-a", lease_ms=LEASE_MS)
        assert not await cursor.hold("replica-b", lease_ms=LEASE_MS)
        assert await cursor.hold("replica-a", lease_ms=LEASE_MS)
        await cursor.release("replica-b")  # not B's: nothing happens
        assert not await cursor.hold("replica-b", lease_ms=LEASE_MS)
        await cursor.release("replica-a")
        assert await cursor.hold("replica-b", lease_ms=LEASE_MS)

    run(server.url, body)


def test_a_replica_that_lost_its_lease_cannot_move_the_cursor(server: RedisServer) -> None:
    """A's lease ran out and B took the sink: A's late acknowledgement leaves the cursor where
    B will read it."""

    async def body(client: Redis) -> None:
        written = await append(client, 2)
        cursor = SinkCursor(client, "siem", start="beginning")
        assert await cursor.hold("replica-a", lease_ms=LEASE_MS)
        start = await cursor.position()
        await client.delete(lease_key("siem"))  # A's lease ran out ...
        assert await cursor.hold("replica-b", lease_ms=LEASE_MS)  # ... and B took over
        moved = await cursor.advance(
            "replica-a", start, Position(written[-1], "h", 2), lease_ms=LEASE_MS
        )
        assert moved == "lost"
        assert await cursor_at(client, "siem") == "0-0"

    run(server.url, body)


def test_the_cursor_moves_only_from_where_it_was_read(server: RedisServer) -> None:
    """An acknowledgement for a position the cursor has already left is refused."""

    async def body(client: Redis) -> None:
        written = await append(client, 3)
        cursor = SinkCursor(client, "siem", start="beginning")
        assert await cursor.hold("replica-a", lease_ms=LEASE_MS)
        start = await cursor.position()
        first = Position(written[0], "h0", 1)
        assert await cursor.advance("replica-a", start, first, lease_ms=LEASE_MS) == "moved"
        stale = await cursor.advance(
            "replica-a", start, Position(written[1], "h1", 2), lease_ms=LEASE_MS
        )
        assert stale == "raced"
        assert await cursor_at(client, "siem") == written[0]

    run(server.url, body)


def test_a_sink_starting_at_the_end_keeps_the_end_it_first_saw(server: RedisServer) -> None:
    """`start: end` is fixed when first seen: entries written after that are still owed."""

    async def body(client: Redis) -> None:
        before = await append(client, 2)
        cursor = SinkCursor(client, "late", start="end")
        first = await cursor.position()
        await append(client, 2, first=2)
        again = await cursor.position()
        assert first.id == again.id == before[-1]
        batch = await cursor.read(again, limit=10)
        assert len(batch.rows) == 2
        assert batch.total == 4

    run(server.url, body)
