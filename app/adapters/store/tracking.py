"""The grant cache's invalidation channel: one connection per process to the server holding the
`{cs}` keys, in RESP3 with `CLIENT TRACKING ON BCAST PREFIX cs:{cs}:access:`, so Redis pushes
the name of every access key that changes on that same connection (docs/adr/0011-grant-cache.md).

Pushes are parsed and applied inside the event loop's read callback, so an invalidation that
asyncio has read is already applied. `quiet()` covers the rest: while any byte sits unread on the
socket (or half a frame in the parser), or the channel is not up and confirmed, the cache must
not answer from memory. Any trouble — the connection dropped or killed, an error, a probe that
finds the server demoted or the slot moved, a reconnect — tells the listener `channel_lost()`
and the channel is not `live` again until a new connection is confirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
from collections import deque
from collections.abc import Sequence
from typing import Protocol, cast

import structlog

from app.adapters.store.resp3 import Parser, ProtocolError, Push, ReplyError, encode
from app.adapters.store.tracking_target import PROBE_KEY, Endpoint, Topology

#: The connection's name in CLIENT LIST.
CLIENT_NAME = "countersign-grant-cache"
#: How often an idle channel asks ROLE and EXISTS: a demoted master or a moved slot is noticed
#: within this, even when no connection drops.
PROBE_INTERVAL = 1.0
#: Pause between attempts to bring a lost channel back (reads go to Redis meanwhile).
RETRY_INTERVAL = 0.5
#: poll() flags that mean "something to read, or the peer is gone".
_READABLE = select.POLLIN | select.POLLPRI | getattr(select, "POLLRDHUP", 0)

log = structlog.get_logger("countersign.grant_cache")


class Listener(Protocol):
    """Told what the channel learns; called from the event loop, must not block or raise."""

    def invalidate(self, keys: Sequence[str]) -> None:
        """These keys changed."""
        ...

    def invalidate_all(self) -> None:
        """Every key may have changed (FLUSHDB, FLUSHALL)."""
        ...

    def channel_up(self) -> None:
        """A new connection is confirmed: answers from before it must be gone."""
        ...

    def channel_lost(self) -> None:
        """The channel is down: forget everything, read Redis until `channel_up`."""
        ...


class ChannelError(ConnectionError):
    """The server refused a step of the handshake or a probe found it is not the one to track."""


class _Wire(asyncio.Protocol):
    """One connection: commands out, replies to their futures in order, pushes to the channel."""

    def __init__(self, channel: TrackingChannel) -> None:
        self._channel = channel
        self._parser = Parser()
        self._replies: deque[asyncio.Future[object]] = deque()
        self._poll: select.poll | None = None
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        self._poll = select.poll()
        self._poll.register(sock.fileno(), _READABLE)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._parser.feed(data)
        except ProtocolError as exc:
            self.abort(str(exc))
            return
        for frame in frames:
            if isinstance(frame, Push):
                self._channel.pushed(self, frame)
            elif self._replies:
                reply = self._replies.popleft()
                if not reply.done():
                    reply.set_result(frame)
            else:
                self.abort("a reply nobody asked for")
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self._poll = None  # the descriptor may be reused from now on: never poll it again
        self._channel.wire_lost(self)
        problem = ConnectionError(str(exc) if exc else "the tracking connection closed")
        while self._replies:
            reply = self._replies.popleft()
            if not reply.done():
                reply.set_exception(problem)
        if not self.closed.done():
            self.closed.set_result(None)

    def unread(self) -> bool:
        """Whether bytes (or the peer's close) wait to be read, or half a frame is parsed."""
        if self._parser.pending or self._poll is None:
            return True
        return bool(self._poll.poll(0))

    def abort(self, why: str) -> None:
        """Drop the connection: the channel is down at once, before the transport reports
        the close (connection_lost comes in a later callback)."""
        log.warning("grant_cache_channel_error", problem=why[:200])
        self._channel.wire_lost(self)
        if self.transport is not None:
            self.transport.abort()

    async def call(self, *commands: tuple[str | bytes | int, ...], within: float) -> list[object]:
        """Send `commands` in one write and wait for their replies, at most `within` seconds."""
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("the tracking connection is closed")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in commands]
        self._replies.extend(futures)
        self.transport.write(b"".join(encode(*command) for command in commands))
        async with asyncio.timeout(within):
            return list(await asyncio.gather(*futures))


class TrackingChannel:
    """Keeps the tracking connection of one process up; `run()` is its task."""

    def __init__(
        self,
        topology: Topology,
        listener: Listener,
        *,
        prefix: str,
        timeout: float,
        probe_interval: float = PROBE_INTERVAL,
        retry_interval: float = RETRY_INTERVAL,
    ) -> None:
        self._topology = topology
        self._listener = listener
        self._prefix = prefix
        self._timeout = timeout
        self._probe_interval = probe_interval
        self._retry_interval = retry_interval
        self._wire: _Wire | None = None
        self._live = False
        #: Whether the last attempt failed (only the first failure of an outage is logged).
        self._failing = False
        #: The tracked server and the connection's id there, while live (for logs and tests).
        self.endpoint: Endpoint | None = None
        self.client_id: int | None = None

    @property
    def live(self) -> bool:
        """Up and confirmed: every change to an access key will be pushed to us."""
        return self._live

    def quiet(self) -> bool:
        """Live, nothing unread on the socket, and the data client still reads from the
        tracked server: only then may the cache answer from memory."""
        wire = self._wire
        if not self._live or wire is None or wire.unread():
            return False
        endpoint = self.endpoint
        return endpoint is not None and self._topology.serves(endpoint)

    async def run(self) -> None:
        """Connect, confirm, follow; on any loss start again after a pause, for ever."""
        while True:
            try:
                await self._session()
            except Exception as exc:  # any failure is a loss: Redis, Sentinel, TLS, protocol
                _raise_if_cancelled()  # redis-py may turn our cancellation into an error
                if self._live or not self._failing:  # once per outage, not once per retry
                    problem = str(exc)[:200] or type(exc).__name__
                    log.warning("grant_cache_channel_lost", problem=problem)
                self._failing = True
            finally:
                self._drop()
            await asyncio.sleep(self._retry_interval)

    async def _session(self) -> None:
        endpoint = await self._topology.locate()
        wire = await self._connect(endpoint)
        self._wire = wire
        hello = ["HELLO", "3", "SETNAME", CLIENT_NAME]
        if endpoint.password is not None:
            hello[2:2] = ["AUTH", endpoint.username or "default", endpoint.password]
        greeting, tracking, role, probe = await wire.call(
            tuple(hello),
            ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", self._prefix),
            ("ROLE",),
            ("EXISTS", PROBE_KEY),
            within=self._timeout,
        )
        if not isinstance(greeting, dict):
            raise ChannelError(f"HELLO 3 refused: {_said(greeting)}")
        if tracking != b"OK":
            raise ChannelError(f"CLIENT TRACKING refused: {_said(tracking)}")
        _confirm(role, probe)
        client_id = greeting.get(b"id")
        self.client_id = client_id if isinstance(client_id, int) else None
        self.endpoint = endpoint
        self._listener.channel_up()
        self._live = True
        self._failing = False
        log.info("grant_cache_channel_up", server=endpoint.name)
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._probe_interval):
                    await asyncio.shield(wire.closed)
            _raise_if_cancelled()
            if wire.closed.done():
                raise ConnectionError("the tracking connection closed")
            role, probe = await wire.call(("ROLE",), ("EXISTS", PROBE_KEY), within=self._timeout)
            _confirm(role, probe)

    async def _connect(self, endpoint: Endpoint) -> _Wire:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._timeout):
            if endpoint.path is not None:
                _, wire = await loop.create_unix_connection(
                    lambda: _Wire(self), endpoint.path, ssl=endpoint.tls
                )
            else:
                _, wire = await loop.create_connection(
                    lambda: _Wire(self),
                    endpoint.host,
                    endpoint.port,
                    ssl=endpoint.tls,
                    server_hostname=endpoint.server_hostname,
                )
        return wire

    def pushed(self, wire: _Wire, push: Push) -> None:
        """A push message from `wire`: invalidations go to the listener."""
        if wire is not self._wire or not push.items:
            return
        kind = push.items[0]
        if kind == b"invalidate":
            keys = push.items[1] if len(push.items) > 1 else None
            if keys is None:
                self._listener.invalidate_all()
            elif isinstance(keys, list):
                self._listener.invalidate([_text(key) for key in keys])
            else:
                wire.abort(f"an invalidation without keys: {type(keys).__name__}")
        elif kind == b"tracking-redir-broken":
            wire.abort("tracking redirection broken")

    def wire_lost(self, wire: _Wire) -> None:
        """The connection closed: down at once, before any other callback runs."""
        if wire is self._wire:
            self._drop()

    def _drop(self) -> None:
        """Down: the listener forgets everything; the connection is closed."""
        wire, self._wire = self._wire, None
        was_live, self._live = self._live, False
        self.endpoint = None
        self.client_id = None
        if was_live:  # nothing was cached otherwise: no flush to report
            self._listener.channel_lost()
        if wire is not None and wire.transport is not None:
            wire.transport.abort()

    async def aclose(self) -> None:
        """Close the connection (after cancelling `run()`)."""
        self._drop()


def _confirm(role: object, probe: object) -> None:
    """The server is a master and serves the `{cs}` slot (EXISTS of the probe key answered)."""
    if not isinstance(role, list) or not role or role[0] != b"master":
        raise ChannelError(f"the tracked server is not a master: {_said(role)}")
    if not isinstance(probe, int):
        raise ChannelError(f"the tracked server does not serve the keys: {_said(probe)}")


def _said(reply: object) -> str:
    if isinstance(reply, ReplyError):
        return reply.message[:200]
    return type(reply).__name__


def _raise_if_cancelled() -> None:
    """Re-raise a cancellation that a timeout racing it swallowed (Python 3.11's
    asyncio.timeout), so stopping the service never waits on this loop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _text(raw: object) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
