"""COUNTERSIGN_DURABILITY and COUNTERSIGN_REDIS_TIMEOUT through /api/v1: an approval or a
revocation the store cannot confirm durable, or that Redis does not answer, is a 503
`store-unavailable` within the bound, never a 200 and never a long wait."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from app.adapters.dev.issuer import DevIssuer
from app.bootstrap import build, prepare_process
from tests.adapters.api.v1.world import ALICE, BOB, DAVE, Api, problem_of, settings_for
from tests.support.redis_server import RedisServer, RedisServerFactory


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis (AOF on, no replica) for this module."""
    return redis_server_factory()


@pytest.fixture
def directory(tmp_path: Path, server: RedisServer) -> Path:
    """A data directory with dev keys, over an emptied Redis."""
    with redis.Redis.from_url(server.url) as client:
        client.flushdb()
    assert prepare_process(settings_for(tmp_path, server.url)) is None
    return tmp_path


def service(directory: Path, server: RedisServer, **extra: str) -> Api:
    """The wired service with settings `extra` (COUNTERSIGN_* names), over the module's Redis."""
    settings = settings_for(directory, server.url, **extra)
    issuer = DevIssuer.load(directory, public_url=settings.server.public_url)
    return Api(settings=settings, app=build(settings), issuer=issuer, redis_url=server.url)


@pytest.fixture
def setup(directory: Path, server: RedisServer) -> Iterator[Api]:
    """A service that prepares the records (default durability: fsync, which this Redis gives)."""
    api = service(directory, server)
    yield api
    api.loop.close()


@pytest.fixture
def one_replica(directory: Path, server: RedisServer) -> Iterator[Api]:
    """A service configured with `replicas:1` and a 500 ms wait, over a Redis with no replica."""
    api = service(
        directory,
        server,
        COUNTERSIGN_DURABILITY="replicas:1",
        COUNTERSIGN_DURABILITY_TIMEOUT="500ms",
    )
    yield api
    api.loop.close()


def assert_unconfirmed(response_status: int, body: dict[str, object]) -> None:
    """503 store-unavailable saying the change is unconfirmed and a keyed retry is safe."""
    assert response_status == 503, body
    assert body["code"] == "store-unavailable"
    assert "could not be confirmed durable" in str(body["detail"])
    assert "Idempotency-Key" in str(body["detail"])


def test_an_approval_no_replica_acknowledges_is_503_within_the_timeout(
    setup: Api, one_replica: Api
) -> None:
    """With `replicas:1` and no replica, BOB's approval answers 503 store-unavailable within
    about COUNTERSIGN_DURABILITY_TIMEOUT, not 200."""
    request = setup.ask(ALICE)
    started = time.monotonic()
    response = one_replica.approve(BOB, request["id"])
    elapsed = time.monotonic() - started
    assert_unconfirmed(response.status_code, problem_of(response))
    assert response.headers["retry-after"] == "1"
    assert elapsed < 3.0


def test_a_revocation_no_replica_acknowledges_is_503(setup: Api, one_replica: Api) -> None:
    """With `replicas:1` and no replica, revoking ALICE's grant answers 503 store-unavailable:
    the caller is never told a revocation happened that a crash could undo."""
    grant = setup.granted(ALICE)
    response = one_replica.delete(f"/api/v1/grants/{grant['id']}", who=BOB)
    assert_unconfirmed(response.status_code, problem_of(response))


def test_readyz_shows_what_durability_lacks(setup: Api, one_replica: Api) -> None:
    """/readyz reports the durability level and its problem, without taking the replica out."""
    assert one_replica.approve(BOB, setup.ask(ALICE)["id"]).status_code == 503
    body = one_replica.get("/readyz").json()
    assert body["durability"]["level"] == "replicas:1"
    assert body["durability"]["ready"] is False
    assert "replica" in body["durability"]["problem"]
    assert body["redis"] == {"reachable": True}


def test_a_stalled_redis_answers_store_unavailable_within_the_bound(
    setup: Api, directory: Path, server: RedisServer
) -> None:
    """Writes paused in Redis for 10 s: an approval answers 503 store-unavailable after about
    one COUNTERSIGN_REDIS_TIMEOUT, not `contention` after many retries, nor 200 once Redis
    wakes up."""
    request = setup.ask(ALICE)
    api = service(directory, server, COUNTERSIGN_REDIS_TIMEOUT="500ms")
    api.ask(DAVE)  # its first change also checks the server, before the pause
    with redis.Redis.from_url(server.url) as admin:
        admin.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
        try:
            started = time.monotonic()
            response = api.approve(BOB, request["id"])
            elapsed = time.monotonic() - started
        finally:
            admin.execute_command("CLIENT", "UNPAUSE")
            api.loop.close()
    assert response.status_code == 503, response.text
    assert problem_of(response)["code"] == "store-unavailable"
    assert elapsed < 4.0  # the budget is 8 x 500 ms; a stalled EXEC fails after one timeout
