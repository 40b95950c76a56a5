"""Normalising the request's host and path before matching, and refusing what is ambiguous.

Proxies hand over paths raw (`/public/../admin`, `%2e%2e`, `//`). Matching a prefix on a raw
path is how peers were bypassed, so the path is decoded once, dot segments are resolved and
repeated slashes folded. An encoded slash or backslash, a NUL or other control character,
invalid UTF-8, or a `..` above the root cannot be normalised without guessing what the backend
will do, so they are refused (the proxy answers 400), as is a `;` parameter on an empty or
dot segment (`/public/..;/admin`), which servlet containers read as `/admin`.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

MAX_PATH_LENGTH = 8192
MAX_HOST_LENGTH = 253

_AMBIGUOUS_ESCAPE = re.compile(r"%(2[fF]|5[cC]|00)")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*$")
_PORT = re.compile(r"^[0-9]{1,5}$")


class PathError(ValueError):
    """A path that cannot be normalised safely."""


class HostError(ValueError):
    """A Host header that is not a plain host name or address."""


def normalize_path(raw: str) -> str:
    """`/a//b/./c/../d?x` → `/a/b/d`. The query and fragment, if any, are dropped."""
    path = raw.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        raise PathError("the path must start with '/'")
    if len(path) > MAX_PATH_LENGTH:
        raise PathError("the path is too long")
    if "%" in path:
        if _AMBIGUOUS_ESCAPE.search(path):
            raise PathError("the path holds an encoded slash, backslash or NUL")
        try:
            path = unquote_to_bytes(path).decode("utf-8")
        except UnicodeDecodeError:
            raise PathError("the path is not valid UTF-8") from None
    if "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise PathError("the path holds a backslash or a control character")
    if "/." not in path and "//" not in path and ";" not in path:
        return path
    segments: list[str] = []
    parts = path.split("/")
    for part in parts[1:-1]:
        _push(segments, part)
    last = parts[-1]
    trailing = last in ("", ".", "..")
    _push(segments, last)
    normal = "/" + "/".join(segments)
    if trailing and normal != "/":
        normal += "/"
    return normal


def _push(segments: list[str], part: str) -> None:
    if ";" in part and part.split(";", 1)[0] in ("", ".", ".."):
        # Servlet containers drop `;params`, reading `/public/..;/admin` as `/admin`.
        raise PathError("the path has parameters on an empty or dot segment")
    if part in ("", "."):
        return
    if part == "..":
        if not segments:
            raise PathError("the path climbs above the root")
        segments.pop()
        return
    segments.append(part)


def normalize_host(raw: str) -> str:
    """`App.Example.COM.:8443` → `app.example.com`; IPv6 literals keep their brackets."""
    host = raw.strip().lower()
    if not host or len(host) > MAX_HOST_LENGTH + 6:
        raise HostError("the host is empty or too long")
    if host.startswith("["):
        end = host.find("]")
        if end < 0 or (host[end + 1 :] and not _port_ok(host[end + 1 :])):
            raise HostError("the host is not a valid IPv6 literal")
        inner = host[1:end]
        if not inner or any(c not in "0123456789abcdef:." for c in inner):
            raise HostError("the host is not a valid IPv6 literal")
        return host[: end + 1]
    name, sep, port = host.partition(":")
    if sep and not _port_ok(":" + port):
        raise HostError("the host has an invalid port")
    name = name.rstrip(".")
    if not _HOST.match(name) or len(name) > MAX_HOST_LENGTH:
        raise HostError("the host is not a valid host name")
    return name


def _port_ok(text: str) -> bool:
    return text.startswith(":") and bool(_PORT.match(text[1:])) and 0 < int(text[1:]) < 65536
