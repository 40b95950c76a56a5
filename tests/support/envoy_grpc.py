"""The shipped gRPC Envoy configuration (deploy/envoy/envoy-grpc.yaml) in the end-to-end suite.

It asks Countersign's gRPC listener (`countersign serve --grpc-port`), so a pool that starts it
must know that port as well as the HTTP one: GrpcProxyPool starts "envoy-grpc" itself and
every other proxy as ProxyPool does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support import components
from tests.support.countersign import RunningCountersign, start_countersign
from tests.support.ports import free_port
from tests.support.procs import ManagedProcess
from tests.support.proxies import (
    DEFAULT_BACKEND_PORT,
    DEFAULT_COUNTERSIGN_PORT,
    PUBLIC_HOST,
    START_TIMEOUT,
    ProxyPool,
    RunningProxy,
    render,
)

ENVOY_GRPC = "envoy-grpc"
#: The ports deploy/envoy/envoy-grpc.yaml names: its own listener and Countersign's gRPC one.
DEFAULT_LISTEN_PORT = 8004
DEFAULT_GRPC_PORT = 9191
#: The setting `countersign serve --grpc-port` stands for.
GRPC_PORT_SETTING = "COUNTERSIGN_GRPC_PORT"


def start_countersign_with_grpc(
    directory: Path, *, grpc_port: int, extra_env: Mapping[str, str] | None = None, **options: Any
) -> RunningCountersign:
    """`countersign serve` (see start_countersign) with its gRPC check listening on
    `grpc_port` (COUNTERSIGN_GRPC_PORT)."""
    return start_countersign(
        directory, extra_env={**(extra_env or {}), GRPC_PORT_SETTING: str(grpc_port)}, **options
    )


def start_envoy_grpc(
    directory: Path, *, countersign_port: int, grpc_port: int, backend_port: int, port: int
) -> RunningProxy:
    """Render envoy-grpc.yaml for these ports into `directory`, start Envoy, wait until it
    routes (Countersign's sign-in page on its public host answers anything but 404)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "envoy-grpc.yaml"
    replacements = {
        DEFAULT_COUNTERSIGN_PORT: countersign_port,
        DEFAULT_GRPC_PORT: grpc_port,
        DEFAULT_BACKEND_PORT: backend_port,
        DEFAULT_LISTEN_PORT: port,
    }
    config.write_text(render("envoy/envoy-grpc.yaml", replacements))
    argv = [
        components.envoy(),
        "-c", str(config),
        # Several Envoys on one host: no shared-memory hot-restart region to collide on.
        "--disable-hot-restart",
        "--concurrency", "1",
        "--log-level", "warn",
    ]  # fmt: skip
    process = ManagedProcess(
        ENVOY_GRPC,
        argv,
        log_path=directory / "envoy-grpc.log",
        env={**os.environ, "HOME": str(directory)},
        cwd=directory,
    )
    process.wait_for_http(
        port, "/login", host=PUBLIC_HOST, ready=lambda status: status != 404, timeout=START_TIMEOUT
    )
    return RunningProxy(ENVOY_GRPC, port, directory, process)


class GrpcProxyPool(ProxyPool):
    """ProxyPool, plus the gRPC Envoy configuration asking Countersign on `grpc_port`."""

    def __init__(
        self, root: Path, *, countersign_port: int, grpc_port: int, backend_port: int
    ) -> None:
        super().__init__(root, countersign_port=countersign_port, backend_port=backend_port)
        self._grpc_root = root / ENVOY_GRPC
        self._countersign = countersign_port
        self._grpc_port = grpc_port
        self._backend = backend_port
        self._envoy_grpc: RunningProxy | None = None

    def get(self, name: str) -> RunningProxy:
        """The running proxy `name`, started now if needed."""
        if name != ENVOY_GRPC:
            return super().get(name)
        if self._envoy_grpc is None:
            self._envoy_grpc = start_envoy_grpc(
                self._grpc_root,
                countersign_port=self._countersign,
                grpc_port=self._grpc_port,
                backend_port=self._backend,
                port=free_port(),
            )
        return self._envoy_grpc

    def stop_all(self) -> None:
        """Stop every proxy started."""
        super().stop_all()
        if self._envoy_grpc is not None:
            self._envoy_grpc.stop()
            self._envoy_grpc = None
