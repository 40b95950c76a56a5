"""Which Redis commands may be sent again after a connection error, and connections that know it.

After a Redis restart every pooled socket is dead. A command that fails on one is repeated once,
at once, on a fresh connection, but only when repeating it cannot apply it twice: it never left
this process (connecting or the pre-send health check failed), or everything sent only reads.
A write or a MULTI/EXEC whose reply was lost is never repeated: it may have been applied. A
timeout is never repeated either (the caller's time bound leaves no room for a second wait).

A socket-level failure also marks every connection of the same client opened before it as
suspect: each is reconnected when next taken from the pool, so concurrent requests after a
restart do not each spend one failure finding their socket dead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    ConnectionPool,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import (
    SentinelConnectionPool,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
)
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

#: Commands whose repetition changes nothing: reads, connection set-up, and the transaction
#: brackets (a MULTI/EXEC block is as repeatable as the commands inside it).
_REPEATABLE = frozenset(
    {
        *("PING", "ECHO", "AUTH", "HELLO", "SELECT", "READONLY", "READWRITE", "QUIT"),
        *("INFO", "TIME", "ROLE", "DBSIZE", "LASTSAVE", "WAIT", "WAITAOF"),
        *("MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH"),
        *("GET", "MGET", "STRLEN", "GETRANGE", "EXISTS", "TYPE", "TTL", "PTTL"),
        *("EXPIRETIME", "PEXPIRETIME", "KEYS", "SCAN", "RANDOMKEY", "GETBIT", "BITCOUNT"),
        *("HGET", "HMGET", "HGETALL", "HKEYS", "HVALS", "HLEN", "HEXISTS", "HSTRLEN", "HSCAN"),
        *("LRANGE", "LLEN", "LINDEX", "LPOS"),
        *("SMEMBERS", "SISMEMBER", "SMISMEMBER", "SCARD", "SSCAN", "SINTER", "SUNION", "SDIFF"),
        *("ZRANGE", "ZRANGEBYSCORE", "ZREVRANGE", "ZREVRANGEBYSCORE", "ZRANGEBYLEX"),
        *("ZREVRANGEBYLEX", "ZSCORE", "ZMSCORE", "ZCARD", "ZCOUNT", "ZLEXCOUNT", "ZRANK"),
        *("ZREVRANK", "ZSCAN", "XRANGE", "XREVRANGE", "XLEN", "XPENDING", "XINFO", "PFCOUNT"),
        *("EVAL_RO", "EVALSHA_RO", "FCALL_RO", "OBJECT", "COMMAND"),
    }
)
#: Container commands whose listed subcommands are repeatable (CLIENT KILL, say, is not).
_REPEATABLE_SUBCOMMANDS = {
    "CLIENT": frozenset({"SETINFO", "SETNAME", "GETNAME", "ID", "INFO", "LIST"}),
    "SCRIPT": frozenset({"EXISTS", "LOAD"}),
    "CONFIG": frozenset({"GET"}),
    "CLUSTER": frozenset({"SLOTS", "SHARDS", "NODES", "INFO", "MYID"}),
    "MEMORY": frozenset({"USAGE"}),
}


class ReplayableConnectionError(RedisConnectionError):
    """A connection failed where sending the command again cannot apply it twice."""


def is_repeatable(args: Sequence[Any]) -> bool:
    """Whether sending this command a second time changes nothing (unknown commands: no)."""
    if not args:
        return False
    words = _text(args[0]).split()
    if not words:
        return False
    name = words[0].upper()
    if name in _REPEATABLE:
        return True
    subcommand = words[1] if len(words) > 1 else (_text(args[1]) if len(args) > 1 else "")
    return subcommand.upper() in _REPEATABLE_SUBCOMMANDS.get(name, frozenset())


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("ascii", "replace")
    return str(value)


def once_at_once() -> Retry:
    """One immediate repetition, of replayable connection failures only (never a timeout)."""
    return Retry(NoBackoff(), 1, supported_errors=(ReplayableConnectionError,))


class Generation:
    """How many socket-level failures one client has seen; connections older than the last
    one are reconnected before they are used again."""

    def __init__(self) -> None:
        self.current = 0

    def advance(self) -> None:
        """A socket died: every connection opened before now is suspect."""
        self.current += 1


class _ReplaySafety(AbstractConnection):
    """Classifies each connection failure as repeatable or not, and knows when its idle
    socket is suspect."""

    def __init__(self, *args: Any, generation: Generation | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._generation = generation or Generation()
        self._born = self._generation.current
        self._packed_repeatable = True
        self._in_flight_repeatable = True

    def pack_command(self, *args: Any) -> list[bytes]:
        """Remember whether the command about to be sent may be repeated."""
        self._packed_repeatable = is_repeatable(args)
        return super().pack_command(*args)

    def pack_commands(self, commands: Iterable[Iterable[Any]]) -> list[bytes]:
        """A pipeline or MULTI/EXEC block may be repeated only if every command in it may."""
        listed = [tuple(command) for command in commands]
        packed = super().pack_commands(listed)  # packs each through pack_command: decide after
        self._packed_repeatable = all(is_repeatable(command) for command in listed)
        return packed

    async def on_connect_check_health(self, check_health: bool = True) -> None:
        """A fresh socket belongs to the current generation."""
        await super().on_connect_check_health(check_health=check_health)
        self._born = self._generation.current

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Connect and health-check before writing, so a failure there is known not to have
        sent anything; a failure while writing may have sent it."""
        repeatable = self._packed_repeatable
        try:
            if not self.is_connected:
                await self.connect_check_health(check_health=False)
            if check_health:
                await self.check_health()  # type: ignore[no-untyped-call]
        except RedisConnectionError as exc:
            self._raise_classified(exc, sent=False)
        self._in_flight_repeatable = repeatable
        try:
            await super().send_packed_command(command, check_health=False)
        except RedisConnectionError as exc:
            self._raise_classified(exc, sent=True)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """A reply lost to a dead socket: repeatable only if the request only read."""
        try:
            return await super().read_response(*args, **kwargs)
        except RedisConnectionError as exc:
            self._raise_classified(exc, sent=True)

    async def suspect(self) -> bool:
        """Whether this idle socket must not be reused: it predates the client's last socket
        failure, or it is closed or holds unread bytes."""
        if self._born < self._generation.current:
            return True
        try:
            return bool(await self.can_read())  # EOF or unread bytes: not safe to reuse
        except (OSError, RedisConnectionError):
            return True

    def _raise_classified(self, exc: RedisConnectionError, *, sent: bool) -> None:
        # Subclasses (LOADING, NOAUTH, ...) are answers from a live server, not a dead socket.
        if type(exc) is not RedisConnectionError:
            raise exc
        self._generation.advance()
        if sent and not self._in_flight_repeatable:
            raise exc
        raise ReplayableConnectionError(*exc.args) from exc


class ReplaySafeConnection(_ReplaySafety, Connection):
    """TCP (redis://)."""


class ReplaySafeSSLConnection(_ReplaySafety, SSLConnection):
    """TLS (rediss://)."""


class ReplaySafeUnixConnection(_ReplaySafety, UnixDomainSocketConnection):
    """A Unix socket (unix://)."""


class ReplaySafeSentinelConnection(_ReplaySafety, SentinelManagedConnection):
    """The master named by Sentinel, over TCP."""


class ReplaySafeSentinelSSLConnection(_ReplaySafety, SentinelManagedSSLConnection):
    """The master named by Sentinel, over TLS."""


def replay_safe(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """The replay-safe variant of the connection class redis-py would have picked."""
    variants: dict[type[AbstractConnection], type[AbstractConnection]] = {
        Connection: ReplaySafeConnection,
        SSLConnection: ReplaySafeSSLConnection,
        UnixDomainSocketConnection: ReplaySafeUnixConnection,
        SentinelManagedConnection: ReplaySafeSentinelConnection,
        SentinelManagedSSLConnection: ReplaySafeSentinelSSLConnection,
    }
    return variants[base]


class _RecyclingPool(ConnectionPool):
    """Replaces a suspect idle connection before handing it out (only at hand-out: a
    connection in use may hold a WATCH that a silent reconnect would drop)."""

    async def ensure_connection(self, connection: AbstractConnection) -> None:
        """Reconnect a suspect socket, then redis-py's own checks."""
        if (
            isinstance(connection, _ReplaySafety)
            and connection.is_connected
            and await connection.suspect()
        ):
            await connection.disconnect()
        await super().ensure_connection(connection)


class ReplaySafePool(_RecyclingPool):
    """The pool of a standalone client."""


class ReplaySafeSentinelPool(_RecyclingPool, SentinelConnectionPool):
    """The pool of a client of the master Sentinel names."""
