"""Build the asyncio Redis client for standalone (redis:// or rediss://), Sentinel or Cluster.

Every client repeats a command once, at once, on a fresh connection when the connection failed
and repeating cannot apply it twice (see `replay.py`); timeouts are never repeated, so a read
stays within the two socket timeouts its caller waits. After a socket failure, idle connections
opened before it are replaced when next handed out: one failure, not one per pooled socket.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection, parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import (
    Sentinel,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
)
from redis.backoff import NoBackoff

from app.adapters.store.replay import (
    Generation,
    ReplaySafePool,
    ReplaySafeSentinelPool,
    once_at_once,
    replay_safe,
)
from app.config.settings import RedisSettings


class RedisConfigError(ValueError):
    """A Redis URL or mode that cannot be used."""


def connect(
    url: str,
    *,
    mode: str = "standalone",
    sentinel_master: str = "mymaster",
    password: str | None = None,
    timeout: float = 0.25,
) -> Any:
    """A client for `url`. Sentinel URLs list the sentinels: redis://h1:26379,h2:26379/0."""
    common: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "health_check_interval": 30,
    }
    if password:
        common["password"] = password
    if mode == "standalone":
        return _standalone(url, common)
    if mode == "cluster":
        return _cluster(url, common)
    if mode == "sentinel":
        return _sentinel(url, common, master=sentinel_master, password=password, timeout=timeout)
    raise RedisConfigError(f"unknown Redis mode '{mode}'")


def _standalone(url: str, common: dict[str, Any]) -> Redis:
    options: dict[str, Any] = {**common, **parse_url(url)}  # the URL's query wins, as in redis-py
    base = options.pop("connection_class", Connection)
    pool = ReplaySafePool(
        connection_class=replay_safe(base),
        retry=once_at_once(),
        generation=Generation(),
        **options,
    )
    return Redis.from_pool(pool)


def _cluster(url: str, common: dict[str, Any]) -> RedisCluster:
    """No client-level repetition: redis-py 8.1's cluster pipeline sends a whole pipeline
    (MULTI/EXEC included) again after any connection error or timeout, which could apply a
    write twice. The cluster client itself drops a failed node's idle connections and
    refreshes its slot map on the first error."""
    return RedisCluster.from_url(url, retry=Retry(NoBackoff(), 0), **common)


def _sentinel(
    url: str, common: dict[str, Any], *, master: str, password: str | None, timeout: float
) -> Redis:
    parts = urlsplit(url)
    hosts = []
    for item in parts.netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise RedisConfigError(f"sentinel address '{item}' must be host:port")
        hosts.append((host.strip("[]"), int(port)))
    db = int(parts.path.strip("/") or 0)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        hosts,
        sentinel_kwargs={"socket_timeout": timeout, "password": password},
        **common,
    )
    tls = parts.scheme == "rediss"
    base = SentinelManagedSSLConnection if tls else SentinelManagedConnection
    client: Redis = sentinel.master_for(
        master,
        connection_pool_class=ReplaySafeSentinelPool,
        connection_class=replay_safe(base),
        retry=once_at_once(),
        generation=Generation(),
        db=db,
    )
    return client


def connect_for(
    settings: RedisSettings, *, url: str | None = None, timeout: float | None = None
) -> Any:
    """A client for the configured Redis (or `url`, e.g. the embedded server a CLI command
    found) in the configured mode, with its password; `timeout` defaults to REDIS_TIMEOUT."""
    if url is None:
        if settings.url is None:
            raise RedisConfigError("COUNTERSIGN_REDIS_URL is not set")
        url = settings.url.get_secret_value()
    return connect(
        url,
        mode=settings.mode,
        sentinel_master=settings.sentinel_master,
        password=settings.password.get_secret_value() if settings.password else None,
        timeout=settings.timeout.total_seconds() if timeout is None else timeout,
    )
