"""The gRPC face of the check: Envoy's `envoy.service.auth.v3.Authorization/Check` on grpc.aio,
answered by the same Checker as the HTTP flavours, in the same process.

The servicer only translates (flavours/envoy_grpc.py); the decision is the Checker's. It fails
closed: a check it cannot read is a denied 400, and any error while answering is a denied 503,
never OK. The listener is plaintext gRPC: keep it on a private address, like /auth/*.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

import grpc
import structlog

from app.adapters.forward_auth.answers import JSON_TYPE, NO_STORE, Answer
from app.adapters.forward_auth.check import Checker, refuse
from app.adapters.forward_auth.flavours.envoy_grpc import (
    ENVOY_GRPC,
    check_request,
    peer_address,
    verdict_for,
)
from app.adapters.forward_auth.grpc.messages import (
    METHOD,
    SERVICE,
    MalformedCheckError,
    read_check,
    write_verdict,
)
from app.adapters.forward_auth.original import BadProxyRequestError
from app.adapters.http_limits import MAX_HEADER_BYTES

#: A CheckRequest is the request's headers plus a little: peers, path, metadata. Envoy's own
#: header limit (60 KiB by default) stays well below this.
MAX_MESSAGE_BYTES = MAX_HEADER_BYTES + 16 * 1024
#: Concurrent checks on one HTTP/2 connection from Envoy (each Envoy worker opens its own).
MAX_CONCURRENT_STREAMS = 256
#: Seconds checks already running get to finish when the service stops.
STOP_GRACE = 5.0
#: What a check that failed inside Countersign gets: denied, 503, never OK.
UNAVAILABLE = Answer(503, [NO_STORE, JSON_TYPE], b'{"decision":"unavailable"}')
_FAILED = write_verdict(verdict_for(UNAVAILABLE))

log = structlog.get_logger("countersign.grpc")


class GrpcStartError(RuntimeError):
    """The gRPC listener cannot start: the message says why, in one line."""


class CheckService:
    """Envoy's Authorization service over one Checker: bytes in, bytes out."""

    __slots__ = ("checker",)

    def __init__(self, checker: Checker) -> None:
        self.checker = checker

    async def check(self, data: bytes, context: Any) -> bytes:
        """One Check call. Whatever goes wrong, the answer is a denial."""
        started = perf_counter()
        peer = ""
        try:
            peer = peer_address(str(context.peer()))
            return write_verdict(verdict_for(await self._answer(data, peer, started)))
        except Exception as exc:  # fail closed: any error is a denial, never OK
            log.error(
                "grpc_check_failed",
                proxy=ENVOY_GRPC.name,
                peer=peer,
                problem=type(exc).__name__,
            )
            return _FAILED

    async def _answer(self, data: bytes, peer: str, started: float) -> Answer:
        try:
            request = check_request(read_check(data), peer=peer)
        except (MalformedCheckError, BadProxyRequestError) as exc:
            return refuse(ENVOY_GRPC, peer, "", str(exc), started)
        return await self.checker.check(ENVOY_GRPC, request, started)

    def handler(self) -> Any:
        """The generic handler grpc serves: raw bytes both ways, so parsing is ours (and a
        message that does not parse is a 400 answer, not a gRPC error)."""
        return grpc.method_handlers_generic_handler(
            SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(self.check)}
        )


class GrpcListener:
    """A bound grpc.aio server: `bind` takes the port (so a taken port stops start-up before
    anything else runs), `start` serves checks, `stop` lets running checks finish."""

    __slots__ = ("_server", "_service", "_started", "address", "port")

    def __init__(self, server: Any, service: CheckService, address: str, port: int) -> None:
        self._server = server
        self._service = service
        self._started = False
        self.address = address
        self.port = port

    @classmethod
    def bind(
        cls, checker: Checker, host: str, port: int, *, reuse_port: bool = False
    ) -> GrpcListener:
        """A server bound to host:port (0: any free port), not yet serving; raises
        GrpcStartError. `reuse_port` lets several worker processes share the port."""
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_concurrent_streams", MAX_CONCURRENT_STREAMS),
                ("grpc.so_reuseport", 1 if reuse_port else 0),
                # No channelz service is served: its per-call bookkeeping would be wasted.
                ("grpc.enable_channelz", 0),
            ]
        )
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = int(server.add_insecure_port(address))
        except RuntimeError:
            raise GrpcStartError(
                f"cannot listen on {address} for gRPC: the address is taken or not local "
                "(COUNTERSIGN_GRPC_PORT)"
            ) from None
        return cls(server, CheckService(checker), address, bound)

    async def start(self) -> None:
        """Serve checks."""
        self._server.add_generic_rpc_handlers((self._service.handler(),))
        await self._server.start()
        self._started = True
        log.info("grpc_listening", address=self.address, port=self.port)

    async def stop(self, grace: float | None = STOP_GRACE) -> None:
        """Refuse new checks, give running ones `grace` seconds, then close the port."""
        if not self._started:
            # grpc closes the port of a server that never started only when the process
            # ends; started without the Check handler (any call: UNIMPLEMENTED, which Envoy
            # denies), it can be stopped like any other.
            self._started = True
            await self._server.start()
        await self._server.stop(grace)


async def start_grpc(checker: Checker, host: str, port: int) -> GrpcListener:
    """A listener serving Envoy's checks on host:port (0: any free port; see `.port`)."""
    listener = GrpcListener.bind(checker, host, port)
    await listener.start()
    return listener
