"""Request-header limits for every endpoint: too many or too large headers are answered 431.

uvicorn's httptools parser accepts headers of any size and number (and its h11 parser refuses
large ones with a plain 400), so Countersign holds every request to its own limits before it
routes it (app.web). A refused request is never judged, and its connection is closed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: The sum of the lengths of every header name and value. nginx's shipped configuration
#: (`large_client_header_buffers 4 32k`) accepts this much; a request nginx let through, with
#: its sign-in cookie and bearer token, is judged rather than refused.
MAX_HEADER_BYTES = 128 * 1024
#: Header lines per request; browsers send about twenty, proxies add a handful.
MAX_HEADER_COUNT = 200

_BODY = b'{"error":"request-header-too-large"}'
_START = {
    "type": "http.response.start",
    "status": 431,
    "headers": [
        (b"content-type", b"application/json"),
        (b"cache-control", b"no-store"),
        (b"connection", b"close"),
        (b"content-length", str(len(_BODY)).encode()),
    ],
}


def headers_too_large(
    headers: list[tuple[bytes, bytes]],
    *,
    max_bytes: int = MAX_HEADER_BYTES,
    max_count: int = MAX_HEADER_COUNT,
) -> bool:
    """Whether `scope["headers"]` holds more than `max_count` lines or `max_bytes` bytes."""
    if len(headers) > max_count:
        return True
    total = 0
    for name, value in headers:
        total += len(name) + len(value)
    return total > max_bytes


async def refuse(send: Send) -> None:
    """Answer 431 Request Header Fields Too Large, and ask the server to close the connection."""
    await send(dict(_START))
    await send({"type": "http.response.body", "body": _BODY})
