"""The ASGI application: /auth/* goes straight to the raw forward-auth handler, the rest to
FastAPI. The decision path pays for no routing or dependency injection it does not need."""

from __future__ import annotations

from typing import Any

from app.adapters.forward_auth.handler import ForwardAuth, Receive, Scope, Send


class CountersignApp:
    """Dispatch by path prefix; FastAPI also receives the lifespan events."""

    def __init__(self, *, forward_auth: ForwardAuth, api: Any) -> None:
        self.forward_auth = forward_auth
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/auth/"):
            await self.forward_auth(scope, receive, send)
            return
        await self.api(scope, receive, send)


def create_app() -> CountersignApp:
    """uvicorn's factory: build the whole service from the environment (see app.bootstrap)."""
    from app.bootstrap import build_from_environment  # noqa: PLC0415  (wiring happens late)

    return build_from_environment()
