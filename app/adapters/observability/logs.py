"""Structured JSON logs; secrets are redacted by one processor, never at call sites."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

SECRET_KEYS = frozenset(
    {"authorization", "cookie", "set-cookie", "token", "password", "secret", "jwt", "assertion"}
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
REDACTED = "[redacted]"


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop values of secret-named keys and anything shaped like a JWT, at any depth."""
    for key, value in event.items():  # assigning existing keys only: safe while iterating
        if _is_secret(key):
            event[key] = REDACTED if value is not None else None
        elif value.__class__ is str:
            if "eyJ" in value:
                event[key] = _JWT.sub(REDACTED, value)
        elif value.__class__ in _CONTAINERS:
            event[key] = _clean(key, value)
    return event


_CONTAINERS = (dict, list, tuple)


_secret_keys: dict[str, bool] = {}


def _is_secret(key: str) -> bool:
    known = _secret_keys.get(key)
    if known is None:
        lower = key.lower()
        known = lower in SECRET_KEYS or any(s in lower for s in ("token", "password", "secret"))
        if len(_secret_keys) < 4096:  # log keys are a small fixed set; never grow unbounded
            _secret_keys[key] = known
    return known


class _Timestamp:
    """ISO 8601 UTC timestamps with milliseconds, formatting the seconds once per second
    (structlog's TimeStamper costs more than the rest of a decision's logging)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        event["timestamp"] = f"{self._prefix}.{int((now - second) * 1000):03d}Z"
        return event


def _clean(key: str, value: Any) -> Any:
    if _is_secret(key):
        return REDACTED if value is not None else None
    if isinstance(value, str):
        return _JWT.sub(REDACTED, value) if "eyJ" in value else value
    if isinstance(value, dict):
        return {k: _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(key, v) for v in value]
    return value


class _BufferedLines:
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


def _factory(logger: _BufferedLines) -> Any:
    def make(*_args: Any) -> _BufferedLines:
        return logger

    return make


def configure_logging(*, level: str = "info", fmt: str = "json") -> None:
    """Set up structlog for the process: JSON lines on stdout (or a console renderer)."""
    json_lines = fmt == "json"
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=orjson.dumps)
        if json_lines
        # Colours only for a person at a terminal: escape codes in a file or a journal are noise.
        else structlog.dev.ConsoleRenderer(colors=_is_terminal(sys.stdout))
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            _Timestamp(),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=(
            _factory(_BufferedLines())
            if json_lines
            else structlog.WriteLoggerFactory(file=sys.stdout)
        ),
        cache_logger_on_first_use=True,
    )


def _is_terminal(stream: Any) -> bool:
    """Whether `stream` is a terminal (and NO_COLOR, https://no-color.org, is not set)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
