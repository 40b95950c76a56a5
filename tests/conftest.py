"""Fixtures shared by every test directory."""

from __future__ import annotations

import sys

import structlog

from tests.support import redis_server

#: Private Redis-compatible servers on loopback (session-scoped; stopped at the end).
redis_server_factory = redis_server.redis_server_factory

# Services built in-process log through structlog; unconfigured, it prints to stdout, where
# tests of the CLI read the command's own output. Until a test configures logging the way the
# service does, log lines go to stderr.
structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
