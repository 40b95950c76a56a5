"""How log lines are written: a buffered stream flushed on a timer, and cheap timestamps."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import sys
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import Any


class Timestamp:
    """ISO 8601 UTC timestamps with milliseconds, formatting the seconds once per second
    (structlog's TimeStamper costs more than the rest of a decision's logging)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        #: (millisecond, its text), replaced whole: threads may ask at once.
        self._last = (-1, "")

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event["timestamp"] = self.now()
        return event

    def now(self) -> str:
        """The current time, to the millisecond (formatted once per millisecond: a busy
        service logs several decisions in each)."""
        millisecond = int(time.time() * 1000)
        last = self._last
        if millisecond == last[0]:
            return last[1]
        second = millisecond // 1000
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        text = f"{self._prefix}.{millisecond % 1000:03d}Z"
        self._last = (millisecond, text)
        return text


class BufferedLines:
    """Writes log lines through a buffer of its own and flushes it `interval` seconds after
    the first line it holds (a timer on the running event loop; outside one, at once), when
    it holds `limit` bytes, and at exit. One system call per request costs more than the rest
    of a decision's logging, and the stream itself may be unbuffered (PYTHONUNBUFFERED, as in
    most container images). A crash can lose the last fraction of a second of decision logs;
    workflow events are in the audit log, written in their own transactions.

    Thread-safe: structlog lines can come from worker threads. The lock is held only to swap
    the buffer, never across a write."""

    def __init__(
        self,
        stream: Any = None,
        interval: float = 0.25,
        limit: int = 64 * 1024,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fixed = stream
        self._clock = clock
        self._interval = interval
        self._limit = limit
        self._buffer: list[bytes] = []
        self._size = 0
        self._since = 0.0
        self._timer: asyncio.TimerHandle | None = None
        #: Where the buffered lines go: the stream when they were logged.
        self._target: Any = None
        self._lock = threading.Lock()
        atexit.register(self.flush)

    @property
    def _stream(self) -> Any:
        # Standard output is looked up at each line: it may be replaced (tests capture it),
        # and a line goes where standard output was when it was logged.
        try:
            return self._fixed if self._fixed is not None else sys.stdout.buffer
        except AttributeError:  # replaced by something without a binary buffer
            return None

    def msg(self, message: bytes) -> None:
        """Buffer one line; a closed or broken stream loses lines, never the request."""
        now = self._clock()
        stream = self._stream
        if stream is not self._target:
            self.flush()  # what waits was logged for the stream before
            self._target = stream
        with self._lock:
            if not self._buffer:
                self._since = now
            self._buffer.append(message)
            self._size += len(message) + 1
            # Also due by age: a timer whose event loop has ended never fires.
            due = self._size >= self._limit or now - self._since >= self._interval
            waiting = self._timer is not None
        if due:
            self.flush()
        elif not waiting:
            self._arm()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg

    def _arm(self) -> None:
        """Flush in `interval` seconds on this thread's event loop; without one, now."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        with self._lock:
            if self._timer is None:
                self._timer = loop.call_later(self._interval, self.flush)

    def flush(self) -> None:
        """Write out what is buffered."""
        with self._lock:
            lines, self._buffer, self._size = self._buffer, [], 0
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if not lines:
            return
        lines.append(b"")
        with contextlib.suppress(ValueError, OSError, AttributeError):  # closed at exit
            stream = self._target if self._target is not None else self._stream
            stream.write(b"\n".join(lines))
            stream.flush()
