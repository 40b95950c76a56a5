"""Log redaction: one processor removes secrets wherever they appear."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from typing import Any

from app.adapters.observability.lines import BufferedLines
from app.adapters.observability.redaction import REDACTED, redact

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
    lines = BufferedLines(stream, interval=3600)
    for n in range(3):
        lines.msg(f'{{"n":{n}}}'.encode())
    lines.flush()
    assert raw.getvalue() == b'{"n":0}\n{"n":1}\n{"n":2}\n'


def test_a_closed_stream_loses_the_line_not_the_request() -> None:
    """Logging into a closed stream never raises into the caller."""
    stream = io.BufferedWriter(io.BytesIO())
    stream.close()
    lines = BufferedLines(stream, interval=0)
    lines.msg(b'{"n":1}')
    lines.flush()


_LOG_ONE_LINE = (
    "from app.adapters.observability.logs import configure_logging; import structlog; "
    "configure_logging(fmt='console'); structlog.get_logger().warning('redis_unreachable', n=1)"
)


def _console_output(*, terminal: bool, no_color: bool = False) -> bytes:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if no_color:
        env["NO_COLOR"] = "1"
    if not terminal:
        done = subprocess.run(
            [sys.executable, "-c", _LOG_ONE_LINE], capture_output=True, env=env, check=True
        )
        return done.stdout
    leader, follower = pty.openpty()
    try:
        subprocess.run([sys.executable, "-c", _LOG_ONE_LINE], stdout=follower, env=env, check=True)
        return os.read(leader, 65536)
    finally:
        os.close(leader)
        os.close(follower)


def test_console_logs_to_a_file_or_pipe_carry_no_colour_codes() -> None:
    """LOG_FORMAT=console into a pipe (a file, journald): plain text, no ANSI escapes."""
    out = _console_output(terminal=False)
    assert b"redis_unreachable" in out
    assert b"\x1b[" not in out


def test_console_logs_at_a_terminal_are_coloured_unless_no_color() -> None:
    """At a terminal the console renderer colours; NO_COLOR turns it off."""
    assert b"\x1b[" in _console_output(terminal=True)
    plain = _console_output(terminal=True, no_color=True)
    assert b"redis_unreachable" in plain
    assert b"\x1b[" not in plain
