"""The decision log: one JSON line per forward-auth decision, written outside structlog.

A decision line is the hottest log line there is (one per request the proxies ask about), and
structlog's processor chain cost several times the rest of its logging. Here the line is a
flat dict serialised once with orjson and appended to the same buffered stream as every other
log line (so lines stay in order), flushed on a timer and at exit.

Redaction stays a guarantee: the decision's fields are a fixed set, none named like a secret
(checked when this module is imported), and every string value is searched for anything shaped
like a JWT, exactly as logs.redact does, so a token a client put in a path, a host or a header
that reaches a field never reaches the log. Until logging is configured as JSON (tests, the
console format of `make run`), decision lines go through structlog as before.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import orjson
import structlog

from app.adapters.observability.lines import BufferedLines, Timestamp
from app.adapters.observability.redaction import JWT_SHAPE, REDACTED, is_secret

#: Every field a decision line may carry; a new field is added here first.
FIELDS: Final = frozenset(
    {
        "request_id",
        "proxy",
        "peer",
        "method",
        "host",
        "path",
        "client_ip",
        "user",
        "application",
        "policy",
        "effect",
        "reasons",
        "identity_problem",
        "problem",
        "status",
        "latency_ms",
    }
)
if any(is_secret(name) for name in FIELDS):  # pragma: no cover - a programming error
    raise RuntimeError("a decision log field is named like a secret: it would be redacted")

_INFO = logging.INFO
_WARNING = logging.WARNING


class DecisionLog:
    """Where decision lines go: the lean writer once JSON logging is configured, else structlog."""

    __slots__ = ("_lines", "_min_level", "_stamp")

    def __init__(self) -> None:
        self._lines: BufferedLines | None = None
        self._min_level = _INFO
        self._stamp = Timestamp()

    def configure(self, lines: BufferedLines | None, *, min_level: int) -> None:
        """JSON lines to `lines` from `min_level` on; None: through structlog."""
        self._lines = lines
        self._min_level = min_level

    def info(self, event: str, fields: dict[str, Any]) -> None:
        """One decision."""
        self._write(_INFO, "info", event, fields)

    def warning(self, event: str, fields: dict[str, Any]) -> None:
        """One refused check (bad proxy metadata, an untrusted caller)."""
        self._write(_WARNING, "warning", event, fields)

    def _write(self, level: int, name: str, event: str, fields: dict[str, Any]) -> None:
        lines = self._lines
        if lines is None:
            getattr(structlog.get_logger("countersign.decision"), name)(event, **fields)
            return
        if level < self._min_level:
            return
        for key, value in fields.items():  # assigning existing keys only: safe while iterating
            if value.__class__ is str and "eyJ" in value:
                fields[key] = JWT_SHAPE.sub(REDACTED, value)
        fields["event"] = event
        fields["level"] = name
        fields["timestamp"] = self._stamp.now()
        lines.msg(orjson.dumps(fields))


#: The process's decision log (configured by logs.configure_logging).
decision_log = DecisionLog()
