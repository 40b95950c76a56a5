"""Audit retention against a real Redis: the oldest entries are trimmed behind a checkpoint in
one atomic step, the kept part verifies from it, tampering with the kept part or the checkpoint
is still caught, and trimming never breaks the chain that transitions keep appending to."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from app.adapters.store import audit
from app.adapters.store.keys import AUDIT_CHECKPOINT_KEY, AUDIT_HEAD_KEY, AUDIT_KEY
from app.adapters.store.retention import Retention, trim_audit, trim_audit_before
from app.core.approvals import Event, EventType
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import (
    Clock,
    World,
    audit_length,
    event_of,
    rewrite_entry,
    service_over,
    seven_entries,
    shipped_policies,
    world,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def after_trim(
    url: str, keep_from: int, tamper: Callable[[World, list[str]], Awaitable[None]] | None = None
) -> tuple[audit.Verdict, list[str], int]:
    """Write the seven-entry workflow, trim the entries before the one at `keep_from`, apply
    `tamper`, and verify: the verdict, the entry ids, and how many the trim removed."""

    async def go() -> tuple[audit.Verdict, list[str], int]:
        async with world(url) as w:
            ids = await seven_entries(w)
            trimmed = await trim_audit_before(w.client, ids[keep_from], now=NOW)
            if tamper is not None:
                await tamper(w, ids)
            return await audit.verify(w.client), ids, trimmed

    return asyncio.run(go())


async def entry_hash_of(client: Redis, entry_id: str) -> str:
    """The chain hash stored in one entry."""
    rows = await client.xrange(AUDIT_KEY, min=entry_id, max=entry_id)
    return str(rows[0][1][b"hash"].decode())


def test_the_kept_part_verifies_from_the_checkpoint(server: RedisServer) -> None:
    """Trimming the three oldest of seven entries leaves four that verify from a checkpoint
    holding the third entry's id and hash, three trimmed, and when."""

    async def go() -> None:
        async with world(server.url) as w:
            ids = await seven_entries(w)
            third = await entry_hash_of(w.client, ids[2])
            assert await trim_audit_before(w.client, ids[3], now=NOW) == 3
            assert await audit_length(w.client) == 4
            checkpoint = audit.Checkpoint(ids[2], third, 3, "2030-01-01T00:00:00Z")
            assert await audit.verify(w.client) == audit.Verdict(
                ok=True, checked=4, checkpoint=checkpoint
            )
            stored = json.loads(await w.client.get(AUDIT_CHECKPOINT_KEY))
            assert stored == {
                "at": "2030-01-01T00:00:00Z",
                "count": 3,
                "hash": third,
                "id": ids[2],
                "version": 1,
            }

    asyncio.run(go())


def test_trims_add_up_in_the_checkpoint(server: RedisServer) -> None:
    """Two trims (two entries, then three) leave one checkpoint counting five."""

    async def go() -> None:
        async with world(server.url) as w:
            ids = await seven_entries(w)
            assert await trim_audit_before(w.client, ids[2], now=NOW) == 2
            assert await trim_audit_before(w.client, ids[5], now=NOW) == 3
            verdict = await audit.verify(w.client)
            assert verdict.ok
            assert verdict.checked == 2
            assert verdict.checkpoint is not None
            assert (verdict.checkpoint.id, verdict.checkpoint.count) == (ids[4], 5)

    asyncio.run(go())


def test_a_trim_takes_at_most_one_batch(server: RedisServer) -> None:
    """With a batch of 2, a trim of everything old removes two entries per step."""

    async def go() -> list[int]:
        async with world(server.url) as w:
            await seven_entries(w)
            later = datetime.now(UTC) + timedelta(minutes=1)
            return [await trim_audit(w.client, before=later, now=NOW, batch=2) for _ in range(5)]

    assert asyncio.run(go()) == [2, 2, 2, 1, 0]


def test_the_sweep_trims_entries_older_than_the_audit_retention(server: RedisServer) -> None:
    """A sweep two days on, with a one-day audit retention, trims all seven entries; the
    empty log verifies from the checkpoint, and the next transition chains on from it."""

    async def go() -> None:
        async with world(server.url) as w:
            await seven_entries(w)
            retention = Retention(w.client, records=timedelta(days=30), audit_log=timedelta(days=1))
            report = await retention.trim(datetime.now(UTC) + timedelta(days=2))
            assert report.audit_entries == 7
            emptied = await audit.verify(w.client)
            assert (emptied.ok, emptied.checked) == (True, 0)
            assert emptied.checkpoint is not None
            assert emptied.checkpoint.count == 7
            event = Event(EventType.GRANT_EXPIRED, datetime.now(UTC), "wiki", "alice@example.com")
            await w.store.append_audit([event])
            verdict = await audit.verify(w.client)
            assert (verdict.ok, verdict.checked) == (True, 1)

    asyncio.run(go())


def test_an_edited_kept_entry_still_fails(server: RedisServer) -> None:
    """After a trim, editing a kept entry's event fails that entry's hash."""

    async def tamper(w: World, ids: list[str]) -> None:
        event = await event_of(w.client, ids[4])
        event["actor"] = "cto@example.com"
        await rewrite_entry(w.client, ids[4], {"event": audit.canonical(event)})

    verdict, ids, _ = after_trim(server.url, 3, tamper)
    assert (verdict.ok, verdict.bad_entry, verdict.checked) == (False, ids[4], 1)
    assert verdict.problem == "content does not match its hash: edited"


def test_a_checkpoint_with_another_hash_fails_at_the_first_kept_entry(
    server: RedisServer,
) -> None:
    """A checkpoint whose hash was changed no longer links to the first kept entry."""

    async def tamper(w: World, _ids: list[str]) -> None:
        body = json.loads(await w.client.get(AUDIT_CHECKPOINT_KEY))
        body["hash"] = "f" * 64
        await w.client.set(AUDIT_CHECKPOINT_KEY, json.dumps(body))

    verdict, ids, _ = after_trim(server.url, 3, tamper)
    assert (verdict.ok, verdict.bad_entry, verdict.checked) == (False, ids[3], 0)
    assert verdict.problem is not None
    assert "retention checkpoint" in verdict.problem


def test_a_checkpoint_with_another_count_fails(server: RedisServer) -> None:
    """A checkpoint claiming fewer trimmed entries disagrees with the head's count."""

    async def tamper(w: World, _ids: list[str]) -> None:
        body = json.loads(await w.client.get(AUDIT_CHECKPOINT_KEY))
        body["count"] = 1
        await w.client.set(AUDIT_CHECKPOINT_KEY, json.dumps(body))

    verdict, _, _ = after_trim(server.url, 3, tamper)
    assert not verdict.ok
    assert verdict.problem is not None
    assert "the head records 7" in verdict.problem


def test_a_deleted_checkpoint_fails(server: RedisServer) -> None:
    """Without the checkpoint the first kept entry does not chain from the genesis."""

    async def tamper(w: World, _ids: list[str]) -> None:
        await w.client.delete(AUDIT_CHECKPOINT_KEY)

    verdict, ids, _ = after_trim(server.url, 3, tamper)
    assert (verdict.ok, verdict.bad_entry) == (False, ids[3])


def test_an_unreadable_checkpoint_fails(server: RedisServer) -> None:
    """A checkpoint key holding garbage is damage, not an absent checkpoint."""

    async def tamper(w: World, _ids: list[str]) -> None:
        await w.client.set(AUDIT_CHECKPOINT_KEY, "{garbage")

    verdict, _, _ = after_trim(server.url, 3, tamper)
    assert not verdict.ok
    assert verdict.problem == f"the retention checkpoint {AUDIT_CHECKPOINT_KEY} cannot be read"


def test_deleting_the_oldest_kept_entry_fails(server: RedisServer) -> None:
    """Deleting the first kept entry breaks the link from the checkpoint to the next one."""

    async def tamper(w: World, ids: list[str]) -> None:
        await w.client.xdel(AUDIT_KEY, ids[3])

    verdict, ids, _ = after_trim(server.url, 3, tamper)
    assert (verdict.ok, verdict.bad_entry, verdict.checked) == (False, ids[4], 0)


def test_a_damaged_part_is_never_trimmed(server: RedisServer) -> None:
    """An edited entry among the old ones stops the trim: nothing goes, no checkpoint is
    written, and verify still names the edited entry."""

    async def go() -> tuple[int, int, bytes | None, audit.Verdict, list[str]]:
        async with world(server.url) as w:
            ids = await seven_entries(w)
            event = await event_of(w.client, ids[1])
            event["actor"] = "cto@example.com"
            await rewrite_entry(w.client, ids[1], {"event": audit.canonical(event)})
            trimmed = await trim_audit_before(w.client, ids[4], now=NOW)
            return (
                trimmed,
                await audit_length(w.client),
                await w.client.get(AUDIT_CHECKPOINT_KEY),
                await audit.verify(w.client),
                ids,
            )

    trimmed, length, checkpoint, verdict, ids = asyncio.run(go())
    assert (trimmed, length, checkpoint) == (0, 7, None)
    assert (verdict.ok, verdict.bad_entry) == (False, ids[1])


def test_the_checkpoint_survives_concurrent_appends_and_trims(server: RedisServer) -> None:
    """Two replicas append 60 audited transitions while two others trim everything written so
    far, two entries at a time: the log verifies, and trimmed plus kept is every entry."""

    async def go() -> None:
        clients = [Redis.from_url(server.url) for _ in range(4)]
        try:
            await clients[0].flushdb()
            policies = shipped_policies()
            writers = [service_over(c, Clock(), policies) for c in clients[:2]]
            writing = [True, True]

            async def append(w: World, n: int) -> None:
                for i in range(30):
                    event = Event(EventType.GRANT_EXPIRED, datetime.now(UTC), "wiki", f"u{n}-{i}")
                    await w.store.append_audit([event])
                writing[n] = False

            async def trim(client: Redis) -> int:
                total = 0
                while True:
                    last_round = not any(writing)
                    later = datetime.now(UTC) + timedelta(seconds=1)
                    total += await trim_audit(client, before=later, now=NOW, batch=2)
                    if last_round:
                        return total
                    await asyncio.sleep(0)

            *_, trimmed_by_one, trimmed_by_other = await asyncio.gather(
                append(writers[0], 0), append(writers[1], 1), trim(clients[2]), trim(clients[3])
            )
            verdict = await audit.verify(clients[0])
            assert verdict.ok, verdict
            head = audit.Head.parse(await clients[0].get(AUDIT_HEAD_KEY))
            assert head.count == 60
            trimmed = verdict.checkpoint.count if verdict.checkpoint else 0
            assert trimmed + verdict.checked == 60
            assert trimmed_by_one + trimmed_by_other == trimmed
            assert trimmed > 0
        finally:
            for c in clients:
                await c.aclose()

    asyncio.run(go())
