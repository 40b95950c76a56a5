"""`countersign serve`: start the service (and, with no Redis URL, a private Redis server)."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import math
import os
import signal
import socket
import sys
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

#: How uvicorn runs Countersign. httptools caps neither the size nor the number of request
#: headers, so the limits answered with 431 are Countersign's own (app.adapters.http_limits);
#: h11 would refuse a large header first, with a bare 400.
SERVER_OPTIONS: Mapping[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "proxy_headers": False,
    "server_header": False,
    "date_header": False,
    "access_log": False,
    "log_level": "warning",
}


def keep_alive_seconds(timeout: timedelta) -> int:
    """uvicorn's idle keep-alive limit for COUNTERSIGN_KEEPALIVE_TIMEOUT, in whole seconds.

    A proxy that reuses an upstream connection Countersign is closing at that moment gets a
    reset, which it answers with a 502 (nginx, Traefik, Caddy) or a 503 or 403 (Envoy) instead of
    Countersign's answer. The shipped proxy configurations keep idle connections for less than
    this, so they always close first. uvicorn takes whole seconds; rounding up never makes the
    limit shorter than asked.
    """
    return math.ceil(timeout.total_seconds())


def register(sub: Any) -> None:
    """Add the `serve` sub-command."""
    parser = sub.add_parser("serve", help="run the forward-auth service")
    parser.add_argument("--host", help="address to bind (COUNTERSIGN_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (COUNTERSIGN_PORT, default 8080)")
    parser.add_argument("--workers", type=int, help="uvicorn worker processes (default 1)")
    parser.add_argument(
        "--grpc-port",
        type=int,
        help="port of the Envoy gRPC ext_authz listener (COUNTERSIGN_GRPC_PORT, default: none)",
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        help="dev mode: built-in issuer and login (never in production)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate settings, take the data directory and the address, start Redis if needed,
    then hand the bound socket over to uvicorn. Nothing is written, started or announced
    before this instance knows it is the only one on its DATA_DIR and owns its port."""
    import uvicorn  # noqa: PLC0415  (heavy import only for this command)

    from app.adapters.store import local_server  # noqa: PLC0415
    from app.adapters.store.embedded import EmbeddedRedisError, start_embedded  # noqa: PLC0415
    from app.bootstrap import prepare_process  # noqa: PLC0415
    from app.cli.serve_app import grpc_port_problem  # noqa: PLC0415
    from app.config import SettingsError, load_settings  # noqa: PLC0415

    env = dict(os.environ)
    if args.dev:
        env["COUNTERSIGN_DEV"] = "1"
    flags = (
        (args.host, "HOST"),
        (args.port, "PORT"),
        (args.workers, "WORKERS"),
        (args.grpc_port, "GRPC_PORT"),
    )
    for flag, name in flags:
        if flag is not None:
            env[f"COUNTERSIGN_{name}"] = str(flag)
    try:
        settings = load_settings(env)
    except SettingsError as exc:
        print(f"countersign: {exc}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as held:
        try:
            if settings.dev.enabled or not settings.redis.url:  # only then is DATA_DIR written to
                held.enter_context(hold_data_dir(Path(settings.server.data_dir)))
            sock = held.enter_context(listen(settings.server.host, settings.server.port))
        except StartError as exc:
            print(f"countersign: {exc}", file=sys.stderr)
            return 1
        grpc_problem = grpc_port_problem(settings.server.host, settings.server.grpc_port)
        if grpc_problem is not None:
            print(f"countersign: {grpc_problem}", file=sys.stderr)
            return 1
        problem = prepare_process(settings)
        if problem is not None:
            print(f"countersign: {problem}", file=sys.stderr)
            return 1
        if not settings.redis.url:
            try:
                embedded = start_embedded(Path(settings.server.data_dir))
            except EmbeddedRedisError as exc:
                print(f"countersign: {exc}", file=sys.stderr)
                return 2
            held.callback(embedded.stop)
            # For the CLI commands that read Redis beside this instance (audit verify|export).
            held.callback(local_server.forget, Path(settings.server.data_dir))
            local_server.record(Path(settings.server.data_dir), embedded.url)
            env["COUNTERSIGN_REDIS_URL"] = embedded.url
            print(
                f"countersign: started a private Redis at {embedded.url} "
                f"(data in {embedded.directory})",
                file=sys.stderr,
            )
        os.environ.update(env)
        config = uvicorn.Config(
            "app.cli.serve_app:create_app",
            factory=True,
            host=settings.server.host,
            port=settings.server.port,
            workers=settings.server.workers,
            timeout_keep_alive=keep_alive_seconds(settings.server.keepalive_timeout),
            **SERVER_OPTIONS,
        )
        # uvicorn shuts down on SIGTERM and then raises it again, which would end the process
        # before `held` unwinds (the embedded Redis stopped, its URL file removed).
        signal.signal(signal.SIGTERM, _interrupt)
        with contextlib.suppress(KeyboardInterrupt):
            if settings.server.workers > 1:
                from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

                Multiprocess(config, sockets=[sock]).run()
            else:
                uvicorn.Server(config).run(sockets=[sock])
    return 0


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


class StartError(RuntimeError):
    """This instance cannot start: the message says why, in one line."""


LOCK_NAME = "countersign.lock"


@contextlib.contextmanager
def hold_data_dir(data_dir: Path) -> Iterator[None]:
    """Hold DATA_DIR for this instance (an exclusive lock, released when the process ends).

    A second instance on the same directory would rewrite the dev key and start a second
    Redis on the same files, breaking the running one: it stops here instead, naming the
    process that holds the directory."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    handle = path.open("a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise StartError(
                f"another Countersign (pid {holder}) is running with COUNTERSIGN_DATA_DIR="
                f"{data_dir}; stop it, or give this one its own data directory"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


@contextlib.contextmanager
def listen(host: str, port: int) -> Iterator[socket.socket]:
    """A socket bound to host:port and listening, before anything announces the service."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise StartError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise StartError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (COUNTERSIGN_PORT)"
        ) from None
    sock.set_inheritable(True)  # worker processes serve this very socket
    try:
        yield sock
    finally:
        sock.close()
