"""Streaming the audit log to a syslog collector on loopback: RFC 5424 messages in
octet-counted frames, over TCP and over TLS verified against a test CA."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.adapters.audit_sinks.records import AuditRecord
from app.adapters.audit_sinks.syslog import frame, message
from app.config.audit_sinks import SyslogSink
from tests.adapters.audit_sinks.harness import Counts, append, cursor_at, streaming
from tests.adapters.audit_sinks.receivers import SyslogCollector, make_ca
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.waiting import until

pytestmark = pytest.mark.redis
#: authpriv (10) at notice (5).
AUTHPRIV_NOTICE = 10 * 8 + 5


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


def tcp_sink(port: int, **changes: object) -> SyslogSink:
    """A plain TCP sink to the loopback collector."""
    sink = SyslogSink(name="syslog", host="127.0.0.1", port=port, transport="tcp")
    return sink.model_copy(update=changes)


def test_framing_counts_the_octets_of_the_message() -> None:
    """A frame is the message's length in bytes (not characters), a space, the message."""
    record = AuditRecord(
        "1767225600123-0", "h" * 64, "p" * 64, {"type": "request_approved", "user": "zoë"}
    )
    payload = message(record, facility="local3", hostname="cs-1")
    assert payload.startswith(
        f"<{19 * 8 + 5}>1 2026-01-01T00:00:00.123Z cs-1 countersign - request_approved - ".encode()
    )
    assert frame(payload) == str(len(payload)).encode() + b" " + payload
    assert len(payload) > len(payload.decode())


def test_entries_reach_a_tcp_collector_once_in_order(server: RedisServer) -> None:
    """Eleven entries arrive as eleven RFC 5424 messages, in log order, the record as JSON."""
    collector = SyslogCollector().start()

    async def body(client: Redis) -> None:
        written = await append(client, 11)
        async with streaming(server.url, [tcp_sink(collector.port, hostname="cs-a")]):
            await until(lambda: len(collector.messages) >= 11)
        parsed = collector.parsed()
        assert [m["record"]["id"] for m in parsed] == written
        assert collector.framing_errors == 0
        first = parsed[0]
        assert int(first["pri"]) == AUTHPRIV_NOTICE
        assert (first["host"], first["app"], first["msgid"]) == (
            "cs-a",
            "countersign",
            "sessions_revoked",
        )
        assert first["record"]["event"]["user"] == "user-0@example.com"
        assert first["ts"].endswith("Z")

    try:
        run(server.url, body)
    finally:
        collector.stop()


def test_a_collector_down_at_first_gets_everything_when_it_listens(server: RedisServer) -> None:
    """Connections refused: the cursor waits; once the collector listens, all arrive once
    (HOSTNAME, not configured, is this machine's name)."""
    collector = SyslogCollector()

    async def body(client: Redis) -> None:
        counts = Counts()
        async with streaming(server.url, [tcp_sink(collector.port)], observer=counts):
            written = await append(client, 6)
            await until(lambda: counts.of("syslog", "failed") >= 2)
            assert await cursor_at(client, "syslog") == "0-0"
            collector.start()
            await until(lambda: len(collector.messages) >= 6)
        assert [m["record"]["id"] for m in collector.parsed()] == written
        assert {m["host"] for m in collector.parsed()} == {socket.gethostname()}

    try:
        run(server.url, body)
    finally:
        collector.stop()


def test_entries_reach_a_tls_collector_verified_against_the_test_ca(
    server: RedisServer, tmp_path: Path
) -> None:
    """Over TLS, the collector's certificate is checked against the configured CA."""
    ca = make_ca(tmp_path / "ca")
    collector = SyslogCollector(tls=(ca.cert, ca.key)).start()

    async def body(client: Redis) -> None:
        written = await append(client, 7)
        sink = tcp_sink(collector.port, transport="tls", ca_file=ca.ca)
        async with streaming(server.url, [sink]):
            await until(lambda: len(collector.messages) >= 7)
        assert [m["record"]["id"] for m in collector.parsed()] == written

    try:
        run(server.url, body)
    finally:
        collector.stop()


def test_a_collector_with_a_certificate_from_another_ca_gets_nothing(
    server: RedisServer, tmp_path: Path
) -> None:
    """A certificate the configured CA did not sign fails the handshake: nothing is sent and
    the cursor does not move."""
    ours, theirs = make_ca(tmp_path / "ours"), make_ca(tmp_path / "theirs", "impostor-ca")
    collector = SyslogCollector(tls=(theirs.cert, theirs.key)).start()

    async def body(client: Redis) -> None:
        counts = Counts()
        await append(client, 3)
        sink = tcp_sink(collector.port, transport="tls", ca_file=ours.ca)
        async with streaming(server.url, [sink], observer=counts):
            await until(lambda: counts.of("syslog", "failed") >= 2)
        assert collector.messages == []
        assert await cursor_at(client, "syslog") == "0-0"

    try:
        run(server.url, body)
    finally:
        collector.stop()
