"""Structured JSON logs for the process; secrets are redacted by one processor (redaction.py)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import orjson
import structlog

from app.adapters.observability.capture import CaptureFile
from app.adapters.observability.decision_log import decision_log
from app.adapters.observability.lines import BufferedLines, Timestamp
from app.adapters.observability.redaction import redact


def _factory(logger: BufferedLines) -> Any:
    def make(*_args: Any) -> BufferedLines:
        return logger

    return make


def configure_logging(
    *,
    level: str = "info",
    fmt: str = "json",
    capture: Path | None = None,
    claims: Collection[str] = (),
) -> None:
    """Set up structlog for the process: JSON lines on stdout (or a console renderer); every
    decision also appended to `capture` when set, records carrying the claims in `claims`."""
    json_lines = fmt == "json"
    min_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    lines = BufferedLines() if json_lines else None
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=orjson.dumps)
        if json_lines
        # Colours only for a person at a terminal: escape codes in a file or a journal are noise.
        else structlog.dev.ConsoleRenderer(colors=_is_terminal(sys.stdout))
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            Timestamp(),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(min_level),
        logger_factory=(
            _factory(lines) if lines is not None else structlog.WriteLoggerFactory(file=sys.stdout)
        ),
        cache_logger_on_first_use=True,
    )
    decision_log.configure(
        lines,
        min_level=min_level,
        capture=CaptureFile(capture) if capture is not None else None,
        claims=claims,
    )


def _is_terminal(stream: Any) -> bool:
    """Whether `stream` is a terminal (and NO_COLOR, https://no-color.org, is not set)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
