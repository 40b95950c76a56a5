"""The ceilings for `make bench`: a raw ASGI app that answers 200 to everything, and a FastAPI
route that does nothing, served with the same uvicorn settings as Countersign."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse


async def raw(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """200, empty body, nothing else."""
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
    )
    await send({"type": "http.response.body", "body": b""})


fastapi_app = FastAPI()


@fastapi_app.get("/{path:path}")
async def nothing(path: str) -> PlainTextResponse:
    """A route that does nothing."""
    return PlainTextResponse("")
