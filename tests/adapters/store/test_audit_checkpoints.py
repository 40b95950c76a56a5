"""The checkpointer against a real Redis: a signed checkpoint every N entries (exactly one per N
however many replicas race), one after the interval when entries came, each written to the log
as an `audit_checkpoint` entry and to the replica's file, and never one over a damaged chain."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.adapters.store import audit
from app.adapters.store.checkpoint_keys import CheckpointVerifier
from app.adapters.store.checkpoints import ANCHOR_KEY, Checkpointer
from app.adapters.store.durability import DurableWrites
from app.adapters.store.retention import trim_audit_before
from app.config import SettingsError, load_settings
from app.config.settings import Durability
from app.core.audit_checkpoint import SignedCheckpoint
from tests.support.audit_checkpoints import (
    append,
    head,
    key_pair,
    logged_checkpoints,
    replica,
    rewrite_history,
)
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import Clock

EVERY = 5


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


async def fresh(url: str) -> Redis:
    """A client to an emptied Redis."""
    client = Redis.from_url(url)
    await client.flushdb()
    return client


def test_a_checkpoint_is_signed_when_the_log_reaches_every_multiple_of_n(
    server: RedisServer, tmp_path: Path
) -> None:
    """Four entries: nothing due; the fifth: a checkpoint of entry 5 with its chain hash, in
    the log as an audit_checkpoint entry, whose signature the public key verifies."""
    key, public = key_pair(tmp_path)

    async def go() -> None:
        client = await fresh(server.url)
        try:
            checkpointer = replica(client, key, every=EVERY)
            await append(client, 4)
            assert await checkpointer.catch_up() == []
            await append(client, 1)
            fifth = (await head(client)).hash
            [signed] = await checkpointer.catch_up()
            assert (signed.count, signed.hash) == (5, fifth)
            assert await logged_checkpoints(client) == [signed.as_dict()]
            assert (await head(client)).count == 6  # the checkpoint is an entry itself
            assert CheckpointVerifier.from_file(public).valid(signed)
            assert (await audit.verify(client)).ok
        finally:
            await client.aclose()

    asyncio.run(go())


def test_each_checkpoint_is_appended_to_the_file_as_a_json_line(
    server: RedisServer, tmp_path: Path
) -> None:
    """Twelve entries with N=5: the file holds the checkpoints of entries 5 and 10, one JSON
    line each, exactly as the log records them."""
    key, _ = key_pair(tmp_path)
    file = tmp_path / "out" / "checkpoints.jsonl"

    async def go() -> list[dict[str, object]]:
        client = await fresh(server.url)
        try:
            checkpointer = replica(client, key, every=EVERY, file=file)
            await append(client, 5)
            await checkpointer.catch_up()
            await append(client, 6)
            await checkpointer.catch_up()
            return await logged_checkpoints(client)
        finally:
            await client.aclose()

    logged = asyncio.run(go())
    lines = [json.loads(line) for line in file.read_text().splitlines()]
    assert [line["count"] for line in lines] == [5, 10]
    assert lines == logged


def test_two_replicas_write_exactly_one_checkpoint_per_n_entries(
    server: RedisServer, tmp_path: Path
) -> None:
    """Two replicas append and run their checkpointers at the same time: every multiple of N
    is checkpointed once, none twice, none skipped, and each replica's file holds only what it
    wrote."""
    key, _ = key_pair(tmp_path)
    files = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]

    async def go() -> tuple[list[int], int]:
        clients = [await fresh(server.url), Redis.from_url(server.url)]
        try:
            replicas = [
                replica(c, key, every=EVERY, file=f) for c, f in zip(clients, files, strict=True)
            ]
            writing = [
                asyncio.create_task(append(c, 30, tag=str(i))) for i, c in enumerate(clients)
            ]

            async def pump(checkpointer: Checkpointer) -> None:
                while not all(task.done() for task in writing):
                    await checkpointer.catch_up()
                    await asyncio.sleep(0)
                await checkpointer.catch_up()

            await asyncio.gather(*writing, *(pump(r) for r in replicas))
            for checkpointer in replicas:  # whatever the last one appended is caught up too
                await checkpointer.catch_up()
            counts = [c["count"] for c in await logged_checkpoints(clients[0])]
            return counts, (await head(clients[0])).count
        finally:
            for client in clients:
                await client.aclose()

    counts, total = asyncio.run(go())
    assert counts == list(range(EVERY, EVERY * len(counts) + 1, EVERY))
    assert total < EVERY * (len(counts) + 1)  # nothing left due
    assert len(counts) >= 60 // EVERY
    # A replica that lost every race wrote no checkpoint, and so has no file.
    written = [f.read_text().splitlines() for f in files if f.exists()]
    in_files = [json.loads(line)["count"] for lines in written for line in lines]
    assert sorted(in_files) == counts


def test_after_the_interval_a_checkpoint_pins_the_head_if_entries_came(
    server: RedisServer, tmp_path: Path
) -> None:
    """Three entries, no multiple of N reached: once the interval has passed, a checkpoint of
    entry 3; with no entry since, the next interval passes without another."""
    key, _ = key_pair(tmp_path)
    clock = Clock()

    async def go() -> None:
        client = await fresh(server.url)
        try:
            checkpointer = replica(
                client, key, every=1000, interval=timedelta(minutes=15), clock=clock
            )
            await append(client, 3)
            assert await checkpointer.catch_up() == []
            clock.advance(timedelta(minutes=16))
            [signed] = await checkpointer.catch_up()
            assert signed.count == 3
            clock.advance(timedelta(minutes=16))
            assert await checkpointer.catch_up() == []
            await append(client, 1)
            [later] = await checkpointer.catch_up()
            assert later.count == 5  # 3 entries, the checkpoint's own, one more
        finally:
            await client.aclose()

    asyncio.run(go())


def test_no_checkpoint_is_signed_over_a_chain_that_does_not_extend_the_last_one(
    server: RedisServer, tmp_path: Path
) -> None:
    """The whole history rewritten consistently after a checkpoint: the next checkpoint is
    refused (the entries after it do not chain from its signed hash); the log gains nothing."""
    key, _ = key_pair(tmp_path)

    async def attack() -> None:
        client = await fresh(server.url)
        try:
            checkpointer = replica(client, key, every=EVERY)
            await append(client, 5)
            await checkpointer.catch_up()
            await append(client, 5)
            await rewrite_history(client)
            before = await head(client)
            assert await checkpointer.catch_up() == []
            assert await head(client) == before
            assert len(await logged_checkpoints(client)) == 1
        finally:
            await client.aclose()

    asyncio.run(attack())


def test_an_anchor_whose_signature_fails_stops_the_checkpointer(
    server: RedisServer, tmp_path: Path
) -> None:
    """The history rewritten and the anchor pointed at the rewritten entry 5 (keeping our key
    id and old signature), so the entries do chain from it: the signature gives it away and
    nothing more is signed."""
    key, _ = key_pair(tmp_path)

    async def go() -> None:
        client = await fresh(server.url)
        try:
            checkpointer = replica(client, key, every=EVERY)
            await append(client, 5)
            await checkpointer.catch_up()
            await rewrite_history(client)
            rows = [row async for row in audit.entries(client)]
            anchor = json.loads(await client.get(ANCHOR_KEY))
            anchor["checkpoint"]["hash"] = rows[4][1]["hash"]
            await client.set(ANCHOR_KEY, json.dumps(anchor))
            await append(client, 10)
            assert await checkpointer.catch_up() == []
            assert len(await logged_checkpoints(client)) == 1
        finally:
            await client.aclose()

    asyncio.run(go())


def test_checkpoints_go_on_from_the_retention_cut(server: RedisServer, tmp_path: Path) -> None:
    """Retention trimmed past the last checkpoint's entry: the next checkpoint signs over the
    kept entries from the cut, at the next multiple of N after it."""
    key, _ = key_pair(tmp_path)

    async def go() -> None:
        client = await fresh(server.url)
        try:
            checkpointer = replica(client, key, every=EVERY)
            await append(client, 5)
            await checkpointer.catch_up()  # entry 6 is the checkpoint
            await append(client, 2)  # entries 7, 8
            ids = [entry_id async for entry_id, _ in audit.entries(client)]
            assert await trim_audit_before(client, ids[7], now=Clock()()) == 7
            await append(client, 2)  # entries 9, 10
            tenth = (await head(client)).hash
            [signed] = await checkpointer.catch_up()
            assert (signed.count, signed.hash) == (10, tenth)
        finally:
            await client.aclose()

    asyncio.run(go())


def test_the_settings_build_a_checkpointer_only_with_a_key(tmp_path: Path) -> None:
    """No key file: no checkpointer; a key file that is not an Ed25519 key: a one-line error
    naming the file; a good one: a checkpointer writing to DATA_DIR's checkpoint file."""
    key, public = key_pair(tmp_path)

    def build(environ: dict[str, str]) -> Checkpointer | None:
        settings = load_settings(environ).audit_checkpoints
        return Checkpointer.build(
            settings,
            client=None,
            durable=DurableWrites(None, Durability("none")),
            data_dir=tmp_path,
            redis_timeout=0.25,
            clock=Clock(),
        )

    assert build({}) is None
    with pytest.raises(SettingsError, match=r"^COUNTERSIGN_AUDIT_CHECKPOINT_KEY_FILE: .* is not"):
        build({"COUNTERSIGN_AUDIT_CHECKPOINT_KEY_FILE": str(public)})
    assert build({"COUNTERSIGN_AUDIT_CHECKPOINT_KEY_FILE": str(key)}) is not None
    settings = load_settings({"COUNTERSIGN_AUDIT_CHECKPOINT_EVERY": "7"}).audit_checkpoints
    assert (settings.every, settings.file_under(tmp_path)) == (
        7,
        tmp_path / "audit-checkpoints.jsonl",
    )


def test_a_checkpoint_entry_reads_back_as_the_record_it_logged(
    server: RedisServer, tmp_path: Path
) -> None:
    """The audit_checkpoint entry's data parses back into the signed checkpoint."""
    key, _ = key_pair(tmp_path)

    async def go() -> None:
        client = await fresh(server.url)
        try:
            await append(client, 5)
            [signed] = await replica(client, key, every=EVERY).catch_up()
            [data] = await logged_checkpoints(client)
            assert SignedCheckpoint.from_dict(data) == signed
        finally:
            await client.aclose()

    asyncio.run(go())
