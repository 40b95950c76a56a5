"""How log lines are written: a buffered stream flushed on a timer, and cheap timestamps."""

from __future__ import annotations

import atexit
import contextlib
import sys
import time
from collections.abc import MutableMapping
from typing import Any


class Timestamp:
    """ISO 8601 UTC timestamps with milliseconds, formatting the seconds once per second
    (structlog's TimeStamper costs more than the rest of a decision's logging)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event["timestamp"] = self.now()
        return event

    def now(self) -> str:
        """The current time, to the millisecond."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((now - second) * 1000):03d}Z"


class BufferedLines:
    """Writes log lines to a buffered binary stream and flushes at most every `interval`
    seconds (and at exit): one system call per request costs more than the rest of a
    decision's logging. A crash can lose the last fraction of a second of decision logs;
    workflow events are in the audit log, written in their own transactions."""

    def __init__(self, stream: Any = None, interval: float = 0.25) -> None:
        self._fixed = stream
        self._interval = interval
        self._last = 0.0
        atexit.register(self.flush)

    @property
    def _stream(self) -> Any:
        # Standard output is looked up at each write: it may be replaced (tests capture it).
        return self._fixed if self._fixed is not None else sys.stdout.buffer

    def msg(self, message: bytes) -> None:
        """Write one line; a closed or broken stream loses the line, never the request."""
        try:
            stream = self._stream
            stream.write(message + b"\n")
            now = time.monotonic()
            if now - self._last >= self._interval:
                self._last = now
                stream.flush()
        except (ValueError, OSError, AttributeError):
            pass

    log = debug = info = warn = warning = error = critical = exception = fatal = msg

    def flush(self) -> None:
        """Write out what is buffered."""
        with contextlib.suppress(ValueError, OSError, AttributeError):  # closed at exit
            self._stream.flush()
