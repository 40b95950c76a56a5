"""`countersign serve`: start the service (and, with no Redis URL, a private Redis server)."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Mapping
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
        "--dev",
        action="store_true",
        help="dev mode: built-in issuer and login (never in production)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate settings, start Redis if needed, then hand over to uvicorn."""
    import uvicorn  # noqa: PLC0415  (heavy import only for this command)

    from app.adapters.store.embedded import EmbeddedRedisError, start_embedded  # noqa: PLC0415
    from app.bootstrap import prepare_process  # noqa: PLC0415
    from app.config import SettingsError, load_settings  # noqa: PLC0415

    env = dict(os.environ)
    if args.dev:
        env["COUNTERSIGN_DEV"] = "1"
    for flag, name in ((args.host, "HOST"), (args.port, "PORT"), (args.workers, "WORKERS")):
        if flag is not None:
            env[f"COUNTERSIGN_{name}"] = str(flag)
    try:
        settings = load_settings(env)
    except SettingsError as exc:
        print(f"countersign: {exc}", file=sys.stderr)
        return 2
    embedded = None
    if not settings.redis_url:
        try:
            embedded = start_embedded(Path(settings.data_dir))
        except EmbeddedRedisError as exc:
            print(f"countersign: {exc}", file=sys.stderr)
            return 2
        env["COUNTERSIGN_REDIS_URL"] = embedded.url
        print(
            f"countersign: started a private Redis at {embedded.url} "
            f"(data in {embedded.directory})",
            file=sys.stderr,
        )
    try:
        problem = prepare_process(load_settings(env))
        if problem is not None:
            print(f"countersign: {problem}", file=sys.stderr)
            return 1
        os.environ.update(env)
        uvicorn.run(
            "app.web:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            timeout_keep_alive=keep_alive_seconds(settings.keepalive_timeout),
            **SERVER_OPTIONS,
        )
    finally:
        if embedded is not None:
            embedded.stop()
    return 0
