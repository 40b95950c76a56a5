"""Normalising the request's host and path before matching, and refusing what is ambiguous.

Routing must see what a backend may see. Proxies hand over paths raw, so the path is decoded
exactly once, then normalised, or refused when a common backend could read it differently
(the proxy answers 400).

Normalised:
  - `?query` and `#fragment`: dropped; they play no part in routing.
  - `%XX` escapes: decoded once (`%61dmin` → `admin`, `%2e%2e` → `..`, `caf%C3%A9` → `café`).
  - `.` and `..` segments, raw or encoded: resolved (`/a/./b/../c` → `/a/c`); a trailing one
    leaves a trailing slash (`/a/b/..` → `/a/`).
  - repeated slashes: folded (`//a///b` → `/a/b`).
  - any other character, non-ASCII included (`/wiki/Café`, `/ノート`): kept as decoded.

Refused:
  - `..` above the root (never clamped).
  - `%2F`, `%5C`, `%00`: an encoded slash, backslash or NUL.
  - an escape left after decoding (`%252e`, `%25%32%65`): double encoding, which a backend
    that decodes twice reads as `.`.
  - `;` in any segment, raw or `%3B` (`/admin;jsessionid=x`, `/public/..;/admin`): servlet
    containers drop `;params` and serve `/admin`.
  - `?` or `#` after decoding (`%3F`, `%23`): a backend that re-parses splits the path there.
  - a backslash, a C0 or C1 control character, DEL, U+2028 or U+2029.
  - invalid UTF-8, overlong forms (`%c0%ae`) included.
  - a non-ASCII character that is, or whose NFKC form holds, `. / \\ ; ? # %` or a look-alike
    of `.`, `/` or `\\`: the fullwidth and small forms (U+FF0E, U+FF0F, U+FF3C, U+FF1B, U+FE52),
    the dot leaders U+2024 and U+2025, the slashes U+2215, U+2044 and U+29F8, set minus U+2216,
    the ideographic full stops U+3002 and U+FF61. Backends that apply NFKC (or a Windows
    best-fit code page) read two fullwidth full stops as `..`.

The look-alikes are the punctuation and symbols that Unicode's confusables (UTS #39) map to
`.`, `/` or `\\`, and the ideographic full stops that IDNA (UTS #46) maps to `.`. Letters and
digits that merely resemble them (katakana NO, Arabic-Indic zero) stay allowed: scripts need
them, and no normalisation turns them into ASCII. A normalised path holds no escape, `;`, `?`,
`#`, look-alike or dot segment, so normalising it again changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote_to_bytes

MAX_PATH_LENGTH = 8192
MAX_HOST_LENGTH = 253
DEFAULT_PORTS = {"http": 80, "https": 443}

_AMBIGUOUS_ESCAPE = re.compile(r"%(2[fF]|5[cC]|00)")
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*$")
_PORT = re.compile(r"^[0-9]{1,5}$")
#: ASCII characters that give a path its structure (or, for `%`, its escapes).
STRUCTURAL = frozenset("./\\;?#%")
#: Punctuation and symbols that look like `.`, `/` or `\` (UTS #39 confusables), and the
#: ideographic full stops (UTS #46 maps them to `.`). NFKC already maps the fullwidth and small
#: forms (U+FF0E, U+FF0F, U+FF3C, U+FE52, U+FE68) to ASCII, so they are caught without a list.
LOOK_ALIKES = frozenset(
    "\u2024\u0701\u0702\ua60e\U00010a50\U0001d16d\u3002"  # dots
    "\u1735\u2041\u2215\u2044\u2571\u27cb\u29f8\U0001d23a\u31d3\u2f03"  # slashes
    "\u2216\u27cd\u29f5\u29f9\U0001d20f\U0001d23b\u31d4\u2f02"  # backslashes
)
_LINE_BREAKS = frozenset("\u2028\u2029")


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
        if _ESCAPE.search(path):
            raise PathError("the path is double-encoded")
        if "?" in path or "#" in path:
            raise PathError("the path holds an encoded '?' or '#'")
    if "\\" in path or any(_is_control(c) for c in path):
        raise PathError("the path holds a backslash or a control character")
    if ";" in path:
        # Servlet containers drop `;params` from every segment: `/admin;x` is `/admin` there.
        raise PathError("the path holds a ';' parameter")
    if not path.isascii() and any(is_look_alike(c) for c in set(path)):
        raise PathError("the path holds a character that looks like or becomes '.', '/' or '\\'")
    if "/." not in path and "//" not in path:
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


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 32 or 127 <= code < 160 or char in _LINE_BREAKS


@lru_cache(maxsize=4096)
def is_look_alike(char: str) -> bool:
    """True for a non-ASCII character that looks like, or NFKC-normalises to, a delimiter."""
    if char.isascii():
        return False
    if char in LOOK_ALIKES:
        return True
    compatible = unicodedata.normalize("NFKC", char)
    return compatible != char and any(c in STRUCTURAL or c in LOOK_ALIKES for c in compatible)


def _push(segments: list[str], part: str) -> None:
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
    return _split_host(raw)[0]


def normalize_authority(raw: str, *, scheme: str) -> str:
    """`App.Example.COM:8443` → `app.example.com:8443`; the scheme's default port is dropped.

    For building URLs back to the user (`rd`); matching uses `normalize_host`.
    """
    host, port = _split_host(raw)
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return host
    return f"{host}:{port}"


def _split_host(raw: str) -> tuple[str, int | None]:
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
        return host[: end + 1], _port(host[end + 1 :])
    name, sep, port = host.partition(":")
    if sep and not _port_ok(":" + port):
        raise HostError("the host has an invalid port")
    name = name.rstrip(".")
    if not _HOST.match(name) or len(name) > MAX_HOST_LENGTH:
        raise HostError("the host is not a valid host name")
    return name, _port(sep + port)


def _port(text: str) -> int | None:
    return int(text[1:]) if text else None


def _port_ok(text: str) -> bool:
    return text.startswith(":") and bool(_PORT.match(text[1:])) and 0 < int(text[1:]) < 65536
