"""The Cookie header the application should receive: the client's, without Countersign's own
session cookie (which would let the application, or its logs, replay the user everywhere).

Proxies that can rewrite a header (nginx `map`, Caddy `request_header` with a regular
expression, an Envoy Lua filter) strip the cookie themselves. Traefik cannot: its forwardAuth
copies the headers listed in `authResponseHeaders` from the allow answer onto the request
(deleting the client's copy first), so the allow answer carries `Cookie` with the cleaned value,
or no `Cookie` at all when nothing is left. Only the Traefik/Caddy flavour sends it.
"""

from __future__ import annotations

from collections.abc import Mapping

RawHeaders = list[tuple[bytes, bytes]]
#: Countersign's default session cookie name (COUNTERSIGN_COOKIE_NAME).
DEFAULT_COOKIE_NAME = "countersign_session"


def without_session_cookie(cookie_header: str, cookie_name: str) -> str:
    """`cookie_header` minus every pair named `cookie_name` (spaces around names ignored, as
    the identity extractor reads them); the other pairs kept in order, joined by "; "."""
    kept = []
    for pair in cookie_header.split(";"):
        text = pair.strip()
        if not text:
            continue
        name, _, _ = text.partition("=")
        if name.strip() == cookie_name:
            continue
        kept.append(text)
    return "; ".join(kept)


def upstream_cookie(headers: Mapping[str, str], cookie_name: str) -> RawHeaders:
    """The `cookie` header of an allow answer: the request's cookies without the session, or
    nothing (the proxy then removes Cookie from the request) when none are left."""
    header = headers.get("cookie")
    if not header:
        return []
    cleaned = without_session_cookie(header, cookie_name)
    if not cleaned:
        return []
    try:
        value = cleaned.encode("latin-1")
    except UnicodeEncodeError:
        return []
    return [(b"cookie", value)]
