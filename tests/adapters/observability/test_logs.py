"""Log redaction: one processor removes secrets wherever they appear."""

from __future__ import annotations

import io
from typing import Any

from app.adapters.observability.logs import REDACTED, _BufferedLines, redact

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"


def run(**event: Any) -> dict[str, Any]:
    return dict(redact(None, "info", dict(event)))


def test_secret_named_keys_are_redacted() -> None:
    """authorization, cookie, *token*, *password*, *secret* values never reach the log."""
    out = run(
        authorization="Bearer x",
        cookie="a=b",
        access_token="t",
        redis_password="p",
        client_secret="s",
        user="alice@example.com",
    )
    assert out == {
        "authorization": REDACTED,
        "cookie": REDACTED,
        "access_token": REDACTED,
        "redis_password": REDACTED,
        "client_secret": REDACTED,
        "user": "alice@example.com",
    }


def test_jwt_shaped_strings_are_redacted_anywhere() -> None:
    """A token pasted into a message, a list or a nested mapping is cut out."""
    out = run(problem=f"bad token {JWT} here", items=[JWT], nested={"x": JWT})
    assert JWT not in str(out)
    assert out["problem"] == f"bad token {REDACTED} here"


def test_ordinary_values_are_untouched() -> None:
    """Reason codes, paths and numbers pass through as they are."""
    out = run(reasons=["groups-ok"], path="/d/1", latency_ms=0.2, user=None)
    assert out == {"reasons": ["groups-ok"], "path": "/d/1", "latency_ms": 0.2, "user": None}


def test_buffered_lines_reach_the_stream_on_flush() -> None:
    """Lines are written in order and nothing is lost once flushed (as at exit)."""
    raw = io.BytesIO()
    stream = io.BufferedWriter(raw)
    lines = _BufferedLines(stream, interval=3600)
    for n in range(3):
        lines.msg(f'{{"n":{n}}}'.encode())
    lines.flush()
    assert raw.getvalue() == b'{"n":0}\n{"n":1}\n{"n":2}\n'


def test_a_closed_stream_loses_the_line_not_the_request() -> None:
    """Logging into a closed stream never raises into the caller."""
    stream = io.BufferedWriter(io.BytesIO())
    stream.close()
    lines = _BufferedLines(stream, interval=0)
    lines.msg(b'{"n":1}')
    lines.flush()
