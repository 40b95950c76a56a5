"""Fixtures shared by every test directory."""

from __future__ import annotations

from tests.support import redis_server

#: Private Redis-compatible servers on loopback (session-scoped; stopped at the end).
redis_server_factory = redis_server.redis_server_factory
