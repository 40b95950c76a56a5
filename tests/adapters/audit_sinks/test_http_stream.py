"""Streaming the audit log to HTTP receivers over a real Redis: every entry once and in order,
signed, through a receiver's outage, with two replicas, beside a slow receiver, across a gap."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from redis.asyncio import Redis

from app.adapters.store.keys import AUDIT_KEY
from app.core.notify import SIGNATURE_HEADER, verify
from tests.adapters.audit_sinks.harness import (
    FAST,
    SECRET,
    Counts,
    all_ids,
    append,
    cursor_at,
    http_sink,
    streaming,
)
from tests.adapters.audit_sinks.receivers import LinesReceiver
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.waiting import until

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


@pytest.fixture
def siem() -> Iterator[LinesReceiver]:
    """A receiver that accepts only correctly signed batches."""
    receiver = LinesReceiver(secret=SECRET.encode()).start()
    yield receiver
    receiver.stop()


def run(url: str, body: object) -> None:
    """Run the coroutine function `body(client)` over an emptied database."""

    async def go() -> None:
        client = Redis.from_url(url)
        try:
            await client.flushdb()
            await body(client)  # type: ignore[operator]
        finally:
            await client.aclose()

    asyncio.run(go())


def test_every_entry_arrives_once_in_order_as_signed_json_lines(
    server: RedisServer, siem: LinesReceiver
) -> None:
    """Twelve entries reach the receiver in log order, in signed batches of JSON lines whose
    hashes chain from the genesis like the log's."""

    async def body(client: Redis) -> None:
        written = await append(client, 12)
        async with streaming(server.url, [http_sink(siem.url)]):
            await until(lambda: len(siem.ids()) >= 12)
        assert siem.ids() == written
        assert siem.bad_signatures == 0
        records = siem.records()
        prev = "0" * 64
        for record in records:
            event = json.dumps(record["event"], sort_keys=True, separators=(",", ":"))
            assert record["prev"] == prev
            assert record["hash"] == hashlib.sha256(f"{prev}\n{event}".encode()).hexdigest()
            prev = record["hash"]
        headers, batch = siem.batches[0]
        assert headers["Content-Type"] == "application/x-ndjson"
        assert verify(
            SECRET.encode(), headers[SIGNATURE_HEADER], batch, now=int(headers_time(headers))
        )
        assert headers["Countersign-Audit-First"] == written[0]
        assert int(headers["Countersign-Audit-Count"]) == len(batch.splitlines()) <= FAST.batch

    run(server.url, body)


def headers_time(headers: dict[str, str]) -> int:
    """The timestamp a signature header carries."""
    return int(headers[SIGNATURE_HEADER].split(",")[0].removeprefix("t="))


def test_a_wrong_secret_is_refused_by_the_receiver_and_nothing_is_skipped(
    server: RedisServer,
) -> None:
    """A receiver holding another key answers 401 to every batch: the cursor stays put."""
    other = LinesReceiver(secret=b"another-key").start()

    async def body(client: Redis) -> None:
        await append(client, 3)
        counts = Counts()
        async with streaming(server.url, [http_sink(other.url)], observer=counts):
            await until(lambda: other.bad_signatures >= 2)
        assert other.ids() == []
        assert counts.of("siem", "failed") >= 2
        assert await cursor_at(client, "siem") == "0-0"  # where it started: the genesis

    try:
        run(server.url, body)
    finally:
        other.stop()


def test_a_receiver_down_then_back_gets_everything_once_in_order(
    server: RedisServer, siem: LinesReceiver
) -> None:
    """The receiver refuses connections, then answers 503, then comes back: nothing is lost,
    nothing arrives twice, and the order is the log's."""

    async def body(client: Redis) -> None:
        siem.stop()
        counts = Counts()
        async with streaming(server.url, [http_sink(siem.url)], observer=counts):
            first = await append(client, 4)
            await until(lambda: counts.of("siem", "failed") >= 2)
            siem.status = 503
            siem.start()
            more = await append(client, 4, first=4)
            await until(lambda: siem.tries >= 2)
            assert siem.ids() == []
            siem.status = 200
            await until(lambda: len(siem.ids()) >= 8)
            last = await append(client, 3, first=8)
            await until(lambda: len(siem.ids()) >= 11)
        assert siem.ids() == first + more + last
        assert await cursor_at(client, "siem") == last[-1]

    run(server.url, body)


def test_two_replicas_deliver_each_entry_once(server: RedisServer, siem: LinesReceiver) -> None:
    """Two replicas stream the same sink: the lease lets one deliver; when it stops, the other
    goes on from the cursor, and the receiver sees every entry exactly once."""

    async def body(client: Redis) -> None:
        sinks = [http_sink(siem.url)]
        async with streaming(server.url, sinks, replica="replica-b") as b:
            async with streaming(server.url, sinks, replica="replica-a"):
                written = await append(client, 9)
                await until(lambda: len(siem.ids()) >= 9)
            # replica-a stopped (and gave its lease up, if it held it): b carries on.
            later = await append(client, 6, first=9)
            await until(lambda: len(siem.ids()) >= 15)
            assert b.runners[0].holding
        assert siem.ids() == written + later

    run(server.url, body)


def test_a_slow_receiver_does_not_delay_another_sink(server: RedisServer) -> None:
    """One receiver holds every request unanswered; the other sink gets all entries meanwhile,
    and the slow one gets them all, in order, once it answers."""
    slow = LinesReceiver(secret=SECRET.encode())
    slow.gate.clear()
    slow.start()
    fast = LinesReceiver(secret=SECRET.encode()).start()

    async def body(client: Redis) -> None:
        sinks = [http_sink(slow.url, name="slow"), http_sink(fast.url, name="fast")]
        async with streaming(server.url, sinks, options=replace(FAST, timeout=60.0)):
            written = await append(client, 12)
            await until(lambda: len(fast.ids()) >= 12)
            assert slow.ids() == []
            assert slow.tries == 0  # its first batch is still waiting for an answer
            slow.gate.set()
            await until(lambda: len(slow.ids()) >= 12)
        assert fast.ids() == written
        assert slow.ids() == written

    try:
        run(server.url, body)
    finally:
        slow.stop()
        fast.stop()


def test_entries_gone_before_delivery_are_reported_as_a_gap(
    server: RedisServer, siem: LinesReceiver
) -> None:
    """Entries removed from the log before the sink had them (a trim while it was down): the
    rest is delivered and the gap is counted once."""

    async def body(client: Redis) -> None:
        counts = Counts()
        written = await append(client, 3)
        async with streaming(server.url, [http_sink(siem.url)], observer=counts):
            await until(lambda: len(siem.ids()) >= 3)
        more = await append(client, 5, first=3)
        await client.xdel(AUDIT_KEY, *more[:2])
        async with streaming(server.url, [http_sink(siem.url)], observer=counts):
            await until(lambda: _cursor_is(client, more[-1]))
        assert siem.ids() == written + more[2:]
        assert counts.of("siem", "gap") == 1
        assert await all_ids(client) == written + more[2:]

    run(server.url, body)


async def _cursor_is(client: Redis, entry_id: str) -> bool:
    return await cursor_at(client, "siem") == entry_id


def test_a_new_sink_may_start_at_the_end_of_the_log(
    server: RedisServer, siem: LinesReceiver
) -> None:
    """`start: end` skips what the log held before the sink was first started."""

    async def body(client: Redis) -> None:
        await append(client, 4)
        async with streaming(server.url, [http_sink(siem.url, start="end")]) as streamer:
            await until(lambda: streamer.runners[0].holding)
            await until(lambda: _cursor_or_read(client))
            later = await append(client, 2, first=4)
            await until(lambda: len(siem.ids()) >= 2)
        assert siem.ids() == later

    run(server.url, body)


async def _cursor_or_read(client: Redis) -> bool:
    """The streamer has looked at the log at least once (its lease is taken)."""
    return bool(await client.exists("cs:{cs}:audit:sink:siem:lease"))
