"""What a client from `connect()` sends again after a lost reply: a read, once, on a fresh
connection; never a write or a MULTI/EXEC block, which may already have been applied."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.adapters.store.connection import connect
from app.adapters.store.replay import is_repeatable
from tests.support.ports import LOOPBACK
from tests.support.redis_server import RedisServer, RedisServerFactory


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One server for this module."""
    return redis_server_factory()


class ReplyCutter:
    """A loopback relay to Redis that, once armed, drops the next reply and closes the
    client's socket: the command reached Redis and ran, its answer never came back."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.armed = False
        self.cuts = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._relays: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._relay, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and end every relay."""
        if self._server is not None:
            self._server.close()
        for relay in self._relays:
            relay.cancel()
        await asyncio.gather(*self._relays, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        relay = asyncio.current_task()
        assert relay is not None
        self._relays.add(relay)
        # Closing cancels relays: the loop must not report one as an error.
        with contextlib.suppress(asyncio.CancelledError):
            await self._cut_or_forward(reader, writer)

    async def _cut_or_forward(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self.upstream_port)
        forward = asyncio.create_task(self._pump(reader, up_writer))
        try:
            while data := await up_reader.read(65536):
                if self.armed:
                    self.armed = False
                    self.cuts += 1
                    break
                writer.write(data)
                await writer.drain()
        finally:
            forward.cancel()
            for closing in (writer, up_writer):
                closing.close()
                with contextlib.suppress(OSError):
                    await closing.wait_closed()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()


def through_cutter(
    server: RedisServer, scenario: Callable[[Any, ReplyCutter], Awaitable[None]]
) -> None:
    """Run `scenario(client, cutter)` with a client of `connect()` talking through a cutter."""

    async def go() -> None:
        cutter = ReplyCutter(server.port)
        await cutter.start()
        client = connect(f"redis://{LOOPBACK}:{cutter.port}/0", timeout=2.0)
        try:
            await client.ping()  # the connection and its handshake are done before arming
            await scenario(client, cutter)
        finally:
            await client.aclose()
            await cutter.close()

    asyncio.run(go())


def test_a_read_whose_reply_was_lost_is_sent_again_once(server: RedisServer) -> None:
    """A GET whose reply died with its connection is answered from a fresh one."""

    async def scenario(client: Any, cutter: ReplyCutter) -> None:
        await client.set("cs:test:replay:read", "kept")
        cutter.armed = True
        assert await client.get("cs:test:replay:read") == b"kept"
        assert cutter.cuts == 1

    through_cutter(server, scenario)


def test_a_transaction_whose_reply_was_lost_is_not_sent_again(server: RedisServer) -> None:
    """A MULTI/INCR/EXEC that ran but lost its reply raises, and the counter moved once."""

    async def scenario(client: Any, cutter: ReplyCutter) -> None:
        await client.delete("cs:test:replay:count")
        cutter.armed = True
        async with client.pipeline(transaction=True) as pipe:
            pipe.incr("cs:test:replay:count")
            with pytest.raises(RedisConnectionError):
                await pipe.execute()
        assert cutter.cuts == 1
        assert await client.get("cs:test:replay:count") == b"1"

    through_cutter(server, scenario)


def test_a_write_whose_reply_was_lost_is_not_sent_again(server: RedisServer) -> None:
    """An INCR that ran but lost its reply raises, and the counter moved once."""

    async def scenario(client: Any, cutter: ReplyCutter) -> None:
        await client.delete("cs:test:replay:single")
        cutter.armed = True
        with pytest.raises(RedisConnectionError):
            await client.incr("cs:test:replay:single")
        assert await client.get("cs:test:replay:single") == b"1"

    through_cutter(server, scenario)


@pytest.mark.parametrize(
    "command",
    [("MGET", "a", "b"), ("GET", "a"), (b"ZRANGEBYSCORE", "i", 0, 1), ("SCRIPT EXISTS", "f"),
     ("CLIENT", "SETINFO", "LIB-NAME", "x"), ("WATCH", "a"), ("MULTI",), ("EXEC",)],
)  # fmt: skip
def test_reads_and_connection_setup_are_repeatable(command: tuple[Any, ...]) -> None:
    """Reads, connection set-up and transaction brackets may be sent twice."""
    assert is_repeatable(command)


@pytest.mark.parametrize(
    "command",
    [("INCR", "a"), ("XADD", "s", "*", "k", "v"), ("EVALSHA", "f", 0), ("PUBLISH", "c", "m"),
     ("CLIENT", "KILL", "ID", "1"), ("GETDEL", "a"), ("NOSUCHCOMMAND",), ()],
)  # fmt: skip
def test_writes_and_unknown_commands_are_not_repeatable(command: tuple[Any, ...]) -> None:
    """Writes, scripts and anything unknown are never sent twice."""
    assert not is_repeatable(command)
