"""uvicorn's factory for `countersign serve`: the service, and beside it, when a gRPC port is
set (`--grpc-port`, COUNTERSIGN_GRPC_PORT), Envoy's gRPC ext_authz check on the same Checker,
started and stopped by the service's own lifespan (in every worker: they share the port)."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

from app.adapters.forward_auth.grpc.lifespan import WithGrpc
from app.bootstrap import build
from app.config import load_settings


def create_app() -> Any:
    """The ASGI app of one worker process."""
    return create_app_from(os.environ)


def create_app_from(environ: Mapping[str, str]) -> Any:
    """The app for `environ`, wrapped with the gRPC listener when a gRPC port is set."""
    settings = load_settings(environ)
    app = build(settings)
    server = settings.server
    if server.grpc_port is None:
        return app
    return WithGrpc(
        app,
        checker=app.forward_auth.checker,
        host=server.host,
        port=server.grpc_port,
        reuse_port=server.workers > 1,
    )


def grpc_port_problem(host: str, port: int | None) -> str | None:
    """Why host:port cannot be the gRPC listener's, in one line, or None (also when unset).

    `serve` asks before it starts anything, as it does for the HTTP port; each worker binds the
    port itself later (they share it), so nothing is held here.
    """
    if port is None:
        return None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        why = exc.strerror or exc
        return f"cannot listen on {host}:{port} for gRPC: {why} (COUNTERSIGN_GRPC_PORT)"
    return None
