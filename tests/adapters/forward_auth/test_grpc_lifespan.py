"""The gRPC listener lives exactly as long as the service: bound before start-up, serving once
the app has started, stopped first at shutdown."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import MutableMapping
from typing import Any

import grpc
import pytest

from app.adapters.forward_auth.grpc.lifespan import WithGrpc
from tests.adapters.forward_auth.grpc_support import call, envoy_request
from tests.adapters.forward_auth.scenario import build
from tests.support.ports import free_port
from tests.support.receivers import wait_for

Message = MutableMapping[str, Any]
CHECK = envoy_request(
    "https://grafana.example.com/d/1",
    headers={"authorization": "Bearer bob-token", "accept": "application/json"},
)


class App:
    """A stand-in for the service's ASGI app: its lifespan only, held or failed on demand."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.hold = asyncio.Event()
        self.hold.set()
        self.started = False
        self.stopped = False

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        assert (await receive())["type"] == "lifespan.startup"
        await self.hold.wait()
        if self.fail:
            await send({"type": "lifespan.startup.failed", "message": "policies invalid"})
            return
        self.started = True
        await send({"type": "lifespan.startup.complete"})
        assert (await receive())["type"] == "lifespan.shutdown"
        self.stopped = True
        await send({"type": "lifespan.shutdown.complete"})


class Lifespan:
    """Plays uvicorn's side of the lifespan protocol."""

    def __init__(self, app: WithGrpc) -> None:
        self.to_app: asyncio.Queue[Message] = asyncio.Queue()
        self.from_app: asyncio.Queue[Message] = asyncio.Queue()
        self.task = asyncio.create_task(app({"type": "lifespan"}, self.to_app.get, self.put))

    async def put(self, message: Message) -> None:
        await self.from_app.put(message)

    async def say(self, kind: str) -> str:
        await self.to_app.put({"type": f"lifespan.{kind}"})
        reply = await asyncio.wait_for(self.from_app.get(), timeout=30)
        return str(reply["type"])


def wrapped(app: App, port: int) -> WithGrpc:
    handler, _, _ = build()
    return WithGrpc(app, checker=handler.checker, host="127.0.0.1", port=port)  # type: ignore[arg-type]


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_checks_are_answered_between_startup_and_shutdown() -> None:
    """After startup.complete a Check is answered; after shutdown the port is closed (gRPC's
    own threads close the listening socket just after stop returns: waited for)."""
    port = free_port()

    async def go() -> int:
        lifespan = Lifespan(wrapped(App(), port))
        assert await lifespan.say("startup") == "lifespan.startup.complete"
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            status = (await call(channel, CHECK)).status
        assert await lifespan.say("shutdown") == "lifespan.shutdown.complete"
        await lifespan.task
        return status

    assert asyncio.run(go()) == 200
    assert wait_for(lambda: port_is_free(port), timeout=10)


def test_a_taken_port_fails_startup_before_the_app_starts() -> None:
    """The port is bound first: taken, start-up fails in one line and nothing else starts."""
    app = App()

    async def go(port: int) -> Message:
        lifespan = Lifespan(wrapped(app, port))
        await lifespan.to_app.put({"type": "lifespan.startup"})
        return await asyncio.wait_for(lifespan.from_app.get(), timeout=30)

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        reply = asyncio.run(go(port))
    assert reply["type"] == "lifespan.startup.failed"
    assert str(port) in reply["message"]
    assert "\n" not in reply["message"]
    assert not app.started


def test_checks_wait_until_the_app_has_started() -> None:
    """While the app is still starting, a Check is not answered (its deadline passes)."""
    port = free_port()
    app = App()

    async def go() -> grpc.StatusCode:
        app.hold.clear()
        lifespan = Lifespan(wrapped(app, port))
        await lifespan.to_app.put({"type": "lifespan.startup"})
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as early:
                await call(channel, CHECK, deadline=0.5)
            app.hold.set()
            assert (await lifespan.from_app.get())["type"] == "lifespan.startup.complete"
            assert (await call(channel, CHECK)).allowed
        assert await lifespan.say("shutdown") == "lifespan.shutdown.complete"
        await lifespan.task
        return early.value.code()

    assert asyncio.run(go()) is grpc.StatusCode.DEADLINE_EXCEEDED


def test_a_failed_app_startup_releases_the_port() -> None:
    """The app failing to start is passed on, and the gRPC port is closed again."""
    port = free_port()

    async def go() -> str:
        lifespan = Lifespan(wrapped(App(fail=True), port))
        reply = await lifespan.say("startup")
        await lifespan.task
        return reply

    assert asyncio.run(go()) == "lifespan.startup.failed"
    assert wait_for(lambda: port_is_free(port), timeout=10)


def test_other_scopes_go_to_the_app_unchanged() -> None:
    """HTTP requests are the wrapped app's; attributes such as forward_auth are reachable."""
    handler, _, _ = build()
    seen: list[str] = []

    class Http:
        forward_auth = handler

        async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
            seen.append(scope["type"])

    app = WithGrpc(Http(), checker=handler.checker, host="127.0.0.1", port=0)  # type: ignore[arg-type]
    asyncio.run(app({"type": "http"}, None, None))  # type: ignore[arg-type]
    assert seen == ["http"]
    assert app.forward_auth is handler
