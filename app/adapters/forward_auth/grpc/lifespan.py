"""Serve Envoy's gRPC check for exactly the lifespan of the ASGI app, in the same process and
on the same Checker as its /auth/* endpoints.

The port is bound when start-up begins, before anything else starts (a taken port stops the
process with one line); checks are served once the app reports started, so the service never
answers gRPC before it would answer HTTP; on shutdown gRPC stops first, letting running checks
finish while Redis and the rest are still there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog

from app.adapters.forward_auth.check import Checker
from app.adapters.forward_auth.grpc.server import STOP_GRACE, GrpcListener, GrpcStartError

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

log = structlog.get_logger("countersign.grpc")


class WithGrpc:
    """An ASGI app, plus the gRPC listener started and stopped by its lifespan."""

    def __init__(
        self, app: App, *, checker: Checker, host: str, port: int, reuse_port: bool = False
    ) -> None:
        self.app = app
        self.checker = checker
        self.host = host
        self.port = port
        self.reuse_port = reuse_port
        #: The running listener (tests read its port), None outside the lifespan.
        self.listener: GrpcListener | None = None

    def __getattr__(self, name: str) -> Any:
        """Everything else is the wrapped app's (e.g. `forward_auth`, `api`)."""
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        await self._lifespan(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        first = await receive()
        try:
            listener = GrpcListener.bind(
                self.checker, self.host, self.port, reuse_port=self.reuse_port
            )
        except GrpcStartError as exc:
            log.error("grpc_start_failed", problem=str(exc))
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        pending: list[Message] = [first]

        async def inner_receive() -> Message:
            if pending:
                return pending.pop()
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self._stop(listener)
            return message

        async def inner_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                await listener.start()
                self.listener = listener
            elif message["type"] == "lifespan.startup.failed":
                await self._stop(listener, grace=None)
            await send(message)

        try:
            await self.app(scope, inner_receive, inner_send)
        finally:
            await self._stop(listener, grace=None)

    async def _stop(self, listener: GrpcListener, *, grace: float | None = STOP_GRACE) -> None:
        self.listener = None
        await listener.stop(grace)
