"""The ASGI application: header limits first, then /auth/* straight to the raw forward-auth
handler and the rest to FastAPI. The decision path pays for no routing or dependency injection
it does not need."""

from __future__ import annotations

from typing import Any

from app.adapters.forward_auth.handler import ForwardAuth, Receive, Scope, Send
from app.adapters.http_limits import headers_too_large, refuse


class CountersignApp:
    """Dispatch by path prefix; FastAPI also receives the lifespan events.

    Every HTTP request, whatever its endpoint, is first held to the header limits of
    `app.adapters.http_limits` (431 beyond them).
    """

    def __init__(self, *, forward_auth: ForwardAuth, api: Any) -> None:
        self.forward_auth = forward_auth
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if headers_too_large(scope["headers"]):
                await refuse(send)
                return
            if scope["path"].startswith("/auth/"):
                await self.forward_auth(scope, receive, send)
                return
        await self.api(scope, receive, send)
