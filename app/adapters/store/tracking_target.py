"""Where the grant cache's tracking channel connects: the server that holds the `{cs}` keys for
the data client — the standalone server, the master Sentinel names, or the Cluster node serving
the `{cs}` slot — with that client's credentials and TLS settings.

`serves` answers, without I/O, whether the data client still sends `{cs}` reads to the node the
channel listens to: after a failover or a slot move the client may learn the new node before
the channel does, and an answer read there must not be cached.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import RedisSSLContext, SSLConnection
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.crc import key_slot

from app.adapters.store.keys import PREFIX

#: A key in the `{cs}` slot that the channel only asks about (EXISTS): a Cluster node that no
#: longer serves the slot answers MOVED.
PROBE_KEY = f"{PREFIX}:tracking:probe"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One server and how to sign in to it; the password never appears in a repr or a log."""

    host: str
    port: int
    path: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: ssl.SSLContext | None = field(default=None, repr=False)
    server_hostname: str | None = None

    @property
    def name(self) -> str:
        """host:port (or the socket path), for logs and comparisons."""
        return self.path or f"{self.host}:{self.port}"


class Topology(Protocol):
    """How to find the `{cs}` master of one data client."""

    async def locate(self) -> Endpoint:
        """The server to track now (may ask Sentinel or refresh the Cluster's slot map)."""
        ...

    def serves(self, endpoint: Endpoint) -> bool:
        """Whether the data client still reads `{cs}` keys from `endpoint` (no I/O)."""
        ...


def topology_of(client: Any) -> Topology:
    """The topology behind a client built by `connection.connect` (any of the three modes)."""
    if isinstance(client, RedisCluster):
        return ClusterTopology(client)
    if isinstance(client.connection_pool, SentinelConnectionPool):
        return SentinelTopology(client)
    return StandaloneTopology(client)


def endpoint_from(
    host: str, port: int, kwargs: dict[str, Any], connection_class: type | None
) -> Endpoint:
    """An Endpoint with the credentials and TLS options redis-py was given (`kwargs`)."""
    tls = None
    if connection_class is not None and issubclass(connection_class, SSLConnection):
        tls = RedisSSLContext(
            keyfile=kwargs.get("ssl_keyfile"),
            certfile=kwargs.get("ssl_certfile"),
            cert_reqs=kwargs.get("ssl_cert_reqs", "required"),
            ca_certs=kwargs.get("ssl_ca_certs"),
            ca_data=kwargs.get("ssl_ca_data"),
            check_hostname=kwargs.get("ssl_check_hostname", True),
            min_version=kwargs.get("ssl_min_version"),
            ciphers=kwargs.get("ssl_ciphers"),
        ).get()
    return Endpoint(
        host=host,
        port=int(port),
        path=kwargs.get("path"),
        username=kwargs.get("username"),
        password=kwargs.get("password"),
        tls=tls,
        server_hostname=host if tls is not None and tls.check_hostname else None,
    )


class StandaloneTopology:
    """One server: the URL's."""

    def __init__(self, client: Any) -> None:
        pool = client.connection_pool
        kwargs = pool.connection_kwargs
        self._endpoint = endpoint_from(
            kwargs.get("host", "localhost"), kwargs.get("port", 6379), kwargs, pool.connection_class
        )

    async def locate(self) -> Endpoint:
        """Always the same server."""
        return self._endpoint

    def serves(self, endpoint: Endpoint) -> bool:
        """Always true: there is no other server."""
        return True


class SentinelTopology:
    """The master Sentinel names now; the data pool's last known master must be the same."""

    def __init__(self, client: Any) -> None:
        self._pool: SentinelConnectionPool = client.connection_pool

    async def locate(self) -> Endpoint:
        """Ask the Sentinels (this also points the data pool at a new master)."""
        host, port = await self._pool.get_master_address()  # type: ignore[no-untyped-call]
        kwargs = self._pool.connection_kwargs
        return endpoint_from(host, port, kwargs, self._pool.connection_class)

    def serves(self, endpoint: Endpoint) -> bool:
        """Whether the data pool's master is `endpoint`."""
        known = self._pool.master_address
        return known is not None and (str(known[0]), int(known[1])) == (
            endpoint.host,
            endpoint.port,
        )


class ClusterTopology:
    """The primary of the `{cs}` slot in the client's slot map."""

    def __init__(self, client: RedisCluster) -> None:
        self._client = client
        self._slot = key_slot(PROBE_KEY.encode())
        self._located = False

    async def locate(self) -> Endpoint:
        """The slot's primary; after the first time the slot map is read again, as the last
        channel was lost (a node down, or MOVED)."""
        if self._located:
            await self._client.nodes_manager.initialize()
        else:
            await self._client.initialize()
            self._located = True
        node = self._client.get_node_from_key(PROBE_KEY)
        if node is None:
            raise ConnectionError("no Cluster node serves the {cs} slot")
        return endpoint_from(
            node.host, int(node.port), node.connection_kwargs, node.connection_class
        )

    def serves(self, endpoint: Endpoint) -> bool:
        """Whether the slot map still names `endpoint` for the `{cs}` slot."""
        nodes = self._client.nodes_manager.slots_cache.get(self._slot)
        return nodes is not None and len(nodes) > 0 and nodes[0].name == endpoint.name
