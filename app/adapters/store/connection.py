"""Build the asyncio Redis client for standalone (redis:// or rediss://), Sentinel or Cluster."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel


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
        return Redis.from_url(url, **common)
    if mode == "cluster":
        return RedisCluster.from_url(url, **common)
    if mode == "sentinel":
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
        return sentinel.master_for(sentinel_master, db=db, ssl=parts.scheme == "rediss")
    raise RedisConfigError(f"unknown Redis mode '{mode}'")
