"""Streaming the audit log to a file: JSON lines, rotated by size, and nothing written twice
after a crash between writing and moving the cursor (the file's own last line says)."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.adapters.audit_sinks.cursor import cursor_key
from app.config.audit_sinks import FileSink
from tests.adapters.audit_sinks.harness import all_ids, append, cursor_at, streaming
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.waiting import until

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


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


def ids_in(*paths: Path) -> list[str]:
    """The entry ids of every line of `paths`, in that order (each line must be whole JSON)."""
    found = []
    for path in paths:
        data = path.read_bytes()
        assert not data or data.endswith(b"\n")
        found += [json.loads(line)["id"] for line in data.splitlines()]
    return found


async def delivered_up_to(client: Redis, entry_id: str) -> None:
    """Wait until the file sink's cursor names `entry_id`."""

    async def there() -> bool:
        return await cursor_at(client, "archive") == entry_id

    await until(there)


def test_the_file_is_rotated_by_size_keeping_the_newest_backups(
    server: RedisServer, tmp_path: Path
) -> None:
    """With 2,000 bytes a file and two backups: no file passes the limit, each holds whole
    lines, and the current file after `.1` after `.2` is the newest part of the log in order."""
    path = tmp_path / "audit" / "audit.jsonl"
    sink = FileSink(name="archive", path=path, max_bytes=2000, backups=2)

    async def body(client: Redis) -> None:
        written = await append(client, 40)
        async with streaming(server.url, [sink]):
            await delivered_up_to(client, written[-1])
        backups = [path.with_name("audit.jsonl.2"), path.with_name("audit.jsonl.1")]
        assert all(p.exists() for p in backups)
        assert not path.with_name("audit.jsonl.3").exists()
        assert all(p.stat().st_size <= 2000 for p in [*backups, path])
        kept = ids_in(*backups, path)
        assert kept == written[-len(kept) :]
        assert len(kept) < len(written)  # the oldest file went
        assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0  # not world-readable

    run(server.url, body)


def test_a_crash_before_the_cursor_moved_writes_nothing_twice(
    server: RedisServer, tmp_path: Path
) -> None:
    """The cursor is put back four entries (as if the replica died after writing them but
    before moving it): the next start reads the file's last line and skips what it holds."""
    path = tmp_path / "audit.jsonl"
    sink = FileSink(name="archive", path=path)

    async def body(client: Redis) -> None:
        written = await append(client, 10)
        async with streaming(server.url, [sink]):
            await delivered_up_to(client, written[-1])
        rows = await client.xrange("cs:{cs}:audit", min=written[5], max=written[5])
        await client.hset(
            cursor_key("archive"),
            mapping={"id": written[5], "hash": rows[0][1][b"hash"].decode(), "count": 6},
        )
        async with streaming(server.url, [sink]):
            later = await append(client, 3, first=10)
            await delivered_up_to(client, later[-1])
        assert ids_in(path) == written + later

    run(server.url, body)


def test_a_line_cut_short_by_a_crash_is_replaced_by_the_whole_one(
    server: RedisServer, tmp_path: Path
) -> None:
    """A torn last line (the write was cut off mid-line) is dropped at start and the entry is
    written whole again, once."""
    path = tmp_path / "audit.jsonl"
    sink = FileSink(name="archive", path=path)

    async def body(client: Redis) -> None:
        written = await append(client, 5)
        async with streaming(server.url, [sink]):
            await delivered_up_to(client, written[-1])
        lines = path.read_bytes().splitlines(keepends=True)
        path.write_bytes(b"".join(lines[:-1]) + lines[-1][:25])  # the last line, torn
        # ... and the cursor had not moved past the entry before it.
        rows = await client.xrange("cs:{cs}:audit", min=written[-2], max=written[-2])
        own_hash = rows[0][1][b"hash"].decode()
        await client.hset(
            cursor_key("archive"), mapping={"id": written[-2], "hash": own_hash, "count": 4}
        )
        async with streaming(server.url, [sink]):
            await delivered_up_to(client, written[-1])
        assert ids_in(path) == written == await all_ids(client)

    run(server.url, body)


def test_a_file_renamed_by_logrotate_is_followed(server: RedisServer, tmp_path: Path) -> None:
    """Someone else renames the file: later entries go to a new file under the name, none to
    the renamed one, and none is lost."""
    path = tmp_path / "audit.jsonl"
    sink = FileSink(name="archive", path=path)

    async def body(client: Redis) -> None:
        async with streaming(server.url, [sink]):
            first = await append(client, 3)
            await delivered_up_to(client, first[-1])
            path.rename(tmp_path / "audit.jsonl-20300101")
            later = await append(client, 2, first=3)
            await delivered_up_to(client, later[-1])
        assert ids_in(tmp_path / "audit.jsonl-20300101") == first
        assert ids_in(path) == later

    run(server.url, body)
