"""Say why an outbound call failed in words an operator can act on, never as an exception
class name (`ConnectError`): "connection refused", "host name not found", "timed out
connecting", "TLS: certificate verify failed", "HTTP 503"."""

from __future__ import annotations

import json
import socket
import ssl

import httpx

#: Phrases of the operating system's or the TLS library's message, and what to say for them.
_KNOWN = (
    ("connection refused", "connection refused"),
    ("name or service not known", "host name not found"),
    ("nodename nor servname", "host name not found"),
    ("temporary failure in name resolution", "host name not found (DNS not answering)"),
    ("no address associated", "host name not found"),
    ("network is unreachable", "network unreachable"),
    ("no route to host", "no route to host"),
    ("connection reset", "connection reset by the server"),
    ("certificate verify failed", "TLS: certificate verify failed"),
    ("wrong version number", "TLS: the server does not speak TLS on this port"),
)


def cause(error: BaseException) -> str:
    """One short line naming what went wrong with an HTTP call."""
    if isinstance(error, httpx.ConnectTimeout):
        return "timed out connecting"
    if isinstance(error, httpx.TimeoutException):
        return "timed out waiting for the answer"
    if isinstance(error, json.JSONDecodeError):
        return "the answer is not JSON"
    text = " ".join(str(error).split())
    # httpx says "All connection attempts failed"; the socket's reason is further down.
    chain = _chain(error)
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in chain):
        return "host name not found"
    lowered = " ".join(str(e).lower() for e in chain)
    for phrase, said in _KNOWN:
        if phrase in lowered:
            return said
    if isinstance(error, ssl.SSLError) or "ssl" in lowered:
        return f"TLS: {text[:160]}" if text else "TLS handshake failed"
    if isinstance(error, httpx.RemoteProtocolError):
        return "the server closed the connection or answered garbage"
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect: {text[:160]}" if text else "cannot connect"
    if text:
        return text[:200]
    return _words(type(error).__name__)


def _chain(error: BaseException) -> list[BaseException]:
    """The error and what caused it, a few levels down (nested exception groups included)."""
    found: list[BaseException] = []
    todo = [error]
    while todo and len(found) < 8:
        current = todo.pop(0)
        found.append(current)
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo += list(getattr(current, "exceptions", ()))
    return found


def _words(name: str) -> str:
    """`ReadError` → "read error": the class name, at worst, as words."""
    spaced = "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()
    return spaced or "failed"
