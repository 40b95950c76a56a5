"""Fixtures of the /api/v1 tests: one Redis per module, and the wired service per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from app.adapters.dev.issuer import DevIssuer
from app.bootstrap import build, prepare_process
from tests.adapters.api.v1.world import Api, settings_for
from tests.support.redis_server import RedisServer, RedisServerFactory


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for a test module; each test starts from an empty database."""
    return redis_server_factory()


@pytest.fixture
def api(tmp_path: Path, server: RedisServer) -> Iterator[Api]:
    """The wired service for one test, on an empty store."""
    client = redis.Redis.from_url(server.url)
    try:
        client.flushdb()
    finally:
        client.close()
    settings = settings_for(tmp_path, server.url)
    problem = prepare_process(settings)
    assert problem is None, problem
    issuer = DevIssuer.load(tmp_path, public_url=settings.server.public_url)
    harness = Api(settings=settings, app=build(settings), issuer=issuer, redis_url=server.url)
    yield harness
    harness.loop.close()
