"""The embedded Redis-compatible server started by `countersign serve` without a Redis URL."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.adapters.store.durability import DurableWrites
from app.adapters.store.durability_verdict import Verdict
from app.adapters.store.embedded import EmbeddedRedisError, start_embedded
from app.config.settings import Durability


def test_starts_on_loopback_with_aof_and_stops(tmp_path: Path) -> None:
    """It answers PING on 127.0.0.1, keeps data under DATA_DIR/redis, and stops cleanly."""
    server = start_embedded(tmp_path)
    try:
        assert server.url.startswith("redis://127.0.0.1:")
        port = int(server.url.rsplit(":", 1)[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"CONFIG GET appendonly\r\n")
            assert b"yes" in sock.recv(128)
        assert (tmp_path / "redis" / "server-binary").read_text().strip()
    finally:
        server.stop()
    assert server.process.poll() is not None


def test_recorded_binary_is_reused(tmp_path: Path) -> None:
    """The binary that wrote the data directory is used again (file formats differ)."""
    first = start_embedded(tmp_path)
    first.stop()
    recorded = (tmp_path / "redis" / "server-binary").read_text()
    second = start_embedded(tmp_path)
    second.stop()
    assert (tmp_path / "redis" / "server-binary").read_text() == recorded


def test_unreadable_data_stops_start_with_the_servers_own_words(tmp_path: Path) -> None:
    """A corrupt AOF manifest is reported with the server's last log lines, not a hang."""
    directory = tmp_path / "redis" / "appendonlydir"
    directory.mkdir(parents=True)
    (directory / "appendonly.aof.manifest").write_text("garbage manifest\n")
    with pytest.raises(EmbeddedRedisError, match="exited at start"):
        start_embedded(tmp_path)


def test_embedded_server_gives_the_default_durability(tmp_path: Path) -> None:
    """The embedded server passes the `fsync` start check: AOF on with `appendfsync always`
    (which also covers a Redis without WAITAOF)."""
    server = start_embedded(tmp_path)

    async def check() -> Verdict | None:
        client = Redis.from_url(server.url)
        try:
            return await DurableWrites(client, Durability("fsync")).start(10.0)
        finally:
            await client.aclose()

    try:
        verdict = asyncio.run(check())
    finally:
        server.stop()
    assert verdict is not None
    assert not verdict.refused
    assert not verdict.warning
    assert "Valkey" in verdict.reason or "Redis" in verdict.reason


def test_embedded_server_fsyncs_before_it_replies(tmp_path: Path) -> None:
    """`appendfsync always`: fast on an idle server, and durable without WAITAOF (Redis 7.0)."""
    server = start_embedded(tmp_path)
    try:
        port = int(server.url.rsplit(":", 1)[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"CONFIG GET appendfsync\r\n")
            assert b"always" in sock.recv(128)
    finally:
        server.stop()
