"""The original request as a proxy describes it, validated and normalised.

Matching uses the bare normalised host and the normalised path (app/core/paths.py); the URL
that `rd` carries back keeps what the user typed that matters: a non-default port and the URI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.core.paths import (
    HostError,
    PathError,
    normalize_authority,
    normalize_host,
    normalize_path,
)

ALLOWED_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)
#: ws/wss are judged as the http/https they upgrade from.
SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
MAX_URI = 8192
#: Raw control characters, space, DEL or anything outside ASCII: never in a URL on the wire.
_NOT_URL = re.compile(r"[^\x21-\x7e]")
#: An absolute URL as urlsplit reads one: scheme (RFC 3986's letters), authority up to the
#: first `/`, `?` or `#`, then path and query up to the fragment.
_ABSOLUTE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^#]*)")


class BadProxyRequestError(ValueError):
    """Forwarded metadata that is missing, malformed or ambiguous: the proxy gets a 400."""


@dataclass(slots=True)
class OriginalRequest:
    """What the user asked the proxy for. Not frozen: built once per check and never changed,
    and a frozen dataclass costs twice the construction time on the hot path."""

    method: str
    scheme: str
    host: str  # normalised, without a port, for matching
    path: str  # normalised, for matching
    uri: str  # path and query as sent (ASCII), for the `rd` redirect target
    authority: str = ""  # host and non-default port, for `rd`; empty means `host`

    @property
    def url(self) -> str:
        """The absolute URL to send the user back to, with its port unless the default."""
        return f"{self.scheme}://{self.authority or self.host}{self.uri}"


def build_original(
    method: str | None, scheme: str | None, host: str | None, uri: str | None
) -> OriginalRequest:
    """Validate each part; anything missing or odd raises BadProxyRequestError."""
    if not method or not host or not uri or not scheme:
        raise BadProxyRequestError("missing forwarded method, scheme, host or URI")
    method = method.strip().upper()
    if method not in ALLOWED_METHODS:
        raise BadProxyRequestError("unknown forwarded method")
    normal_scheme = SCHEMES.get(scheme.strip().lower())
    if normal_scheme is None:
        raise BadProxyRequestError("forwarded scheme is not http(s)")
    if len(uri) > MAX_URI or _NOT_URL.search(uri):
        raise BadProxyRequestError(
            "forwarded URI is too long or holds raw control or non-ASCII bytes"
        )
    if not uri.startswith("/"):
        raise BadProxyRequestError("forwarded URI must start with '/'")
    try:
        normal_host, authority = _host_parts(host, normal_scheme)
        path = normalize_path(uri)
    except (HostError, PathError) as exc:
        raise BadProxyRequestError(str(exc)) from None
    return OriginalRequest(
        method, normal_scheme, normal_host, path, uri.split("#", 1)[0], authority=authority
    )


#: Host header → (host for matching, authority for `rd`), per scheme. Proxies send a handful
#: of distinct hosts, so each is parsed once; a flood of new ones clears the table, never grows it.
_hosts: dict[tuple[str, str], tuple[str, str]] = {}
HOST_CACHE_SIZE = 4096


def _host_parts(host: str, scheme: str) -> tuple[str, str]:
    key = (host, scheme)
    parts = _hosts.get(key)
    if parts is None:
        parts = (normalize_host(host), normalize_authority(host, scheme=scheme))
        if len(_hosts) >= HOST_CACHE_SIZE:
            _hosts.clear()
        _hosts[key] = parts
    return parts


def split_url(url: str | None) -> tuple[str | None, str | None, str | None]:
    """`https://h:1/p?q` → (scheme, host[:port], path+query); raises on a non-absolute URL.

    One regular expression, read as urlsplit reads a URL (urlsplit costs several times more
    once its small cache misses, which distinct URLs make it do); a bracketed IPv6 authority
    is still checked by urlsplit itself."""
    if not url:
        return None, None, None
    if len(url) > MAX_URI or _NOT_URL.search(url):
        raise BadProxyRequestError("forwarded URL holds raw control or non-ASCII bytes")
    parts = _ABSOLUTE.match(url)
    if parts is None or not parts[2] or "@" in parts[2]:
        raise BadProxyRequestError("forwarded URL must be absolute, with no user info")
    scheme, netloc, rest = parts.groups()
    if "[" in netloc or "]" in netloc:
        try:
            urlsplit(url)
        except ValueError:
            raise BadProxyRequestError("forwarded URL is malformed") from None
    path, _, query = rest.partition("?")
    uri = path or "/"
    if query:
        uri = f"{uri}?{query}"
    return scheme.lower(), netloc, uri
