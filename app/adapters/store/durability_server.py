"""Talking to the Redis server about durability, on one connection: asking what it can promise
(`read_facts`) and sending a probe write with its wait (`exchange`).

WAITAOF and WAIT count the writes of the connection that sends them, and do not block inside
MULTI. So after a transition's EXEC has answered, one connection sends, in one round trip, a tiny
write to a `{cs}` key and then the wait: the AOF and the replication stream are ordered, so that
later write being on disk (or on the replicas) covers the EXEC before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Sequence
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError, ResponseError

from app.adapters.store.durability_verdict import ServerFacts
from app.adapters.store.keys import PREFIX

#: Written before each wait; the hash tag puts it in the slot (Cluster: on the node) of the data.
PROBE_KEY = f"{PREFIX}:durability:probe"


async def read_facts(client: Any, *, within: float) -> ServerFacts:
    """Ask the server (the node holding `{cs}` on a Cluster) what it can give, in one round
    trip. Redis errors other than a refused command propagate."""
    replies = await exchange(
        client,
        [
            ("INFO", "server"),
            ("INFO", "replication"),
            ("CONFIG", "GET", "appendonly"),
            ("CONFIG", "GET", "appendfsync"),
            ("WAITAOF", 1, 0, max(1, int(within * 1000))),
        ],
        within=within,
    )
    server, replication, appendonly, appendfsync, waitaof = replies
    for reply in (server, replication):
        if isinstance(reply, Exception):
            raise reply
    fields = _info(server) | _info(replication)
    config_error = next(
        (str(r) for r in (appendonly, appendfsync) if isinstance(r, Exception)), None
    )
    only = _config_value(appendonly)
    compatible = fields.get("redis_version", "0")
    product = (
        f"Valkey {fields['valkey_version']}"
        if "valkey_version" in fields
        else f"Redis {compatible}"
    )
    return ServerFacts(
        product=product,
        version=_version(compatible),
        appendonly=None if only is None else only == "yes",
        appendfsync=_config_value(appendfsync),
        replicas=int(fields.get("connected_slaves", "0") or 0),
        waitaof_error=str(waitaof) if isinstance(waitaof, Exception) else None,
        config_error=config_error,
    )


def _info(reply: Any) -> dict[str, str]:
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    fields = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and not name.startswith("#"):
            fields[name.strip()] = value.strip()
    return fields


def _config_value(reply: Any) -> str | None:
    # RESP2 answers [name, value]; RESP3 a map; a refused CONFIG is an exception.
    if isinstance(reply, dict):
        values = list(reply.values())
    elif isinstance(reply, list | tuple):
        values = list(reply[1::2])
    else:
        return None
    if not values:
        return None
    value = values[0]
    return (value.decode() if isinstance(value, bytes) else str(value)).lower()


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


async def exchange(client: Any, commands: Sequence[tuple[Any, ...]], *, within: float) -> list[Any]:
    """Send `commands` in one write on one connection (on a Cluster: to the node that owns
    PROBE_KEY's slot) and return each reply, or the error the server answered in its place.

    The whole exchange is bounded by `within` seconds; a connection that failed or timed out
    part-way is closed, never handed back with replies left unread."""
    async with asyncio.timeout(within), _connection(client) as connection:
        await connection.send_packed_command(connection.pack_commands(commands))
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(await connection.read_response(timeout=math.inf))
            except ResponseError as error:
                replies.append(error)
        return replies


@contextlib.asynccontextmanager
async def _connection(client: Any) -> AsyncIterator[Any]:
    if isinstance(client, RedisCluster):
        await client.initialize()
        node = client.get_node_from_key(PROBE_KEY)
        if node is None:
            raise RedisError(f"no Cluster node owns the slot of {PROBE_KEY}")
        connection = node.acquire_connection()
        release: Any = node.release
    else:
        pool = client.connection_pool
        connection = await pool.get_connection()
        release = pool.release
    try:
        yield connection
    except BaseException:
        await connection.disconnect()
        raise
    finally:
        done = release(connection)
        if asyncio.iscoroutine(done):
            await done
