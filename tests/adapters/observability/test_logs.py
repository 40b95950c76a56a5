"""Log redaction: one processor removes secrets wherever they appear."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import subprocess
import sys
from typing import Any

import pytest

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


class CountingStream(io.RawIOBase):
    """An unbuffered stream (standard output under PYTHONUNBUFFERED) that counts its writes."""

    def __init__(self) -> None:
        self.data = b""
        self.writes = 0
        self.written: asyncio.Event | None = None

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.writes += 1
        self.data += bytes(b)
        if self.written is not None:
            self.written.set()
        return len(b)


def test_lines_to_an_unbuffered_stream_are_written_together() -> None:
    """Over an unbuffered stream, a hundred lines logged in a service (an event loop runs)
    are one write, not a hundred."""
    stream = CountingStream()
    lines = BufferedLines(stream, interval=3600)

    async def serve() -> None:
        for n in range(100):
            lines.msg(f'{{"n":{n}}}'.encode())

    asyncio.run(serve())
    assert stream.writes == 0
    lines.flush()
    assert stream.writes == 1
    assert stream.data.splitlines() == [f'{{"n":{n}}}'.encode() for n in range(100)]


def test_a_full_buffer_is_written_at_once() -> None:
    """The buffer never holds more than its limit."""
    stream = CountingStream()
    lines = BufferedLines(stream, interval=3600, limit=64)

    async def serve() -> None:
        for _ in range(4):
            lines.msg(b"x" * 20)

    asyncio.run(serve())
    assert stream.writes == 1
    assert stream.data == (b"x" * 20 + b"\n") * 4


def test_a_last_line_is_written_by_the_timer() -> None:
    """With nothing logged after it, a line still reaches the stream within the interval."""
    stream = CountingStream()
    lines = BufferedLines(stream, interval=0.05)

    async def go() -> None:
        stream.written = asyncio.Event()
        lines.msg(b'{"last":true}')
        assert stream.writes == 0
        await asyncio.wait_for(stream.written.wait(), 10)

    asyncio.run(go())
    assert stream.data == b'{"last":true}\n'


def test_lines_after_an_event_loop_ended_are_still_written() -> None:
    """A timer armed on a loop that has ended never fires: the next line past the interval
    writes what waits."""
    stream = CountingStream()
    now = [0.0]
    lines = BufferedLines(stream, interval=1.0, clock=lambda: now[0])

    async def one() -> None:
        lines.msg(b"1")

    asyncio.run(one())  # ends before its timer fires
    now[0] = 1.5
    lines.msg(b"2")
    assert stream.data == b"1\n2\n"


def test_outside_an_event_loop_each_line_is_written_at_once() -> None:
    """A command-line tool's lines appear as they are logged (no loop to flush them later)."""
    stream = CountingStream()
    lines = BufferedLines(stream, interval=3600)
    lines.msg(b"1")
    assert stream.data == b"1\n"


def test_a_line_goes_where_standard_output_was_when_it_was_logged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Standard output replaced while lines wait (a test capturing it): the waiting lines go
    to the stream they were logged for, the new ones to the new stream."""
    first, second = io.TextIOWrapper(io.BytesIO()), io.TextIOWrapper(io.BytesIO())
    lines = BufferedLines(interval=3600)

    async def serve() -> None:
        monkeypatch.setattr(sys, "stdout", first)
        lines.msg(b"1")
        monkeypatch.setattr(sys, "stdout", second)
        lines.msg(b"2")

    asyncio.run(serve())
    lines.flush()
    assert (first.buffer.getvalue(), second.buffer.getvalue()) == (b"1\n", b"2\n")  # type: ignore[attr-defined]


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
