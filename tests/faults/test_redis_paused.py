"""Redis stops answering (SIGSTOP: sockets open, no replies) while Countersign is asked: a
forward-auth check answers 503 within its Redis timeout, an API write answers 503 within the
durability bound, and everything is decided again once Redis resumes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.faults.conftest import Scenario
from tests.faults.harness import (
    ALICE,
    APPLICATION,
    BOB,
    EXPECTED,
    MALLORY,
    Service,
    start_service,
    until,
)
from tests.support.redis_topologies import start_standalone

REDIS_TIMEOUT = 0.5
DURABILITY_TIMEOUT = 1.0
#: Forward-auth gives the store twice the socket timeout; one more second for a busy machine.
CHECK_BOUND = 2 * REDIS_TIMEOUT + 1.0
#: A write may wait for Redis and then for durability.
API_BOUND = 2 * REDIS_TIMEOUT + DURABILITY_TIMEOUT + 1.0


def test_redis_paused(tmp_path: Path, scenario: Scenario) -> None:
    """With Redis paused, checks and an API write both end in 503 within their bounds."""
    redis = start_standalone(tmp_path / "redis")
    service = start_service(
        tmp_path / "countersign",
        redis_url=redis.url,
        env={
            "COUNTERSIGN_REDIS_TIMEOUT": f"{int(REDIS_TIMEOUT * 1000)}ms",
            "COUNTERSIGN_DURABILITY_TIMEOUT": f"{int(DURABILITY_TIMEOUT * 1000)}ms",
        },
    )
    try:
        service.mint(ALICE, BOB, MALLORY)
        service.grant(ALICE)
        redis.pause()
        try:
            with ThreadPoolExecutor(max_workers=4) as pool:
                checks = list(
                    pool.map(lambda who: _timed_check(service, who), [ALICE, MALLORY] * 2)
                )
                write = _timed_write(service)
        finally:
            redis.resume()
        until(lambda: service.check(ALICE) == 200, timeout=10, what="ALICE allowed after resume")
        after = (service.check(ALICE), service.check(MALLORY))
    finally:
        service.stop()
        redis.stop()
    slowest = max(seconds for _, seconds in checks)
    check_statuses = sorted({status for status, _ in checks}, key=str)
    ok = (
        check_statuses == [503]
        and slowest <= CHECK_BOUND
        and write[0] == 503
        and write[1] <= API_BOUND
        and after == (200, EXPECTED[MALLORY])
    )
    scenario.record(
        f"checks {check_statuses} in <= {slowest:.2f} s (bound {CHECK_BOUND:.1f}); API write "
        f"{write[0]} in {write[1]:.2f} s (bound {API_BOUND:.1f}); after resume {after}",
        ok=ok,
    )
    assert check_statuses == [503]
    assert slowest <= CHECK_BOUND
    assert write[0] == 503
    assert write[1] <= API_BOUND
    assert after == (200, EXPECTED[MALLORY])


def _timed_check(service: Service, who: str) -> tuple[int | None, float]:
    started = time.monotonic()
    try:
        status: int | None = service.check(who, timeout=10)
    except httpx.HTTPError:
        status = None
    return status, time.monotonic() - started


def _timed_write(service: Service) -> tuple[int | None, float]:
    started = time.monotonic()
    try:
        answer = service.call(
            "POST", "/api/v1/access-requests", MALLORY, json={"application": APPLICATION}
        )
        status: int | None = answer.status_code
    except httpx.HTTPError:
        status = None
    return status, time.monotonic() - started
