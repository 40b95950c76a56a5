"""Reading a small JSON document from an identity provider (a JWKS, an OpenID discovery
document): one GET, 200 only, never more than a bound, however much the server sends."""

from __future__ import annotations

import httpx


class FetchError(ValueError):
    """The endpoint answered, but not with something we can use."""


async def download(client: httpx.AsyncClient, url: str, *, limit: int) -> bytes:
    """The body of a 200 answer to GET `url`; FetchError for another status or a body larger
    than `limit` bytes (read in chunks, so a huge answer is cut off, not buffered)."""
    async with client.stream("GET", url, headers={"accept": "application/json"}) as response:
        if response.status_code != 200:
            raise FetchError(f"HTTP {response.status_code}")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise FetchError(f"larger than {limit} bytes")
        return bytes(body)
