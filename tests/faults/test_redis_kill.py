"""Redis is killed (SIGKILL) while forward-auth checks stream in, then started again on the
same port and data: nobody without a grant is let in, the outage answers only 503, and the
first check after Redis answers PING again is decided correctly, as is every one after."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.conftest import Scenario
from tests.faults.harness import (
    ALICE,
    BOB,
    EXPECTED,
    MALLORY,
    Load,
    Shot,
    between,
    shown,
    start_service,
    statuses,
)
from tests.support.redis_topologies import start_standalone

pytestmark = pytest.mark.faults

#: Longest acceptable time from Redis answering PING again to ALICE's next allowed check.
RECOVERY_BOUND = 3.0
RATE = 40.0


def test_redis_kill_under_load(tmp_path: Path, scenario: Scenario) -> None:
    """kill -9 Redis under 40 checks/s: 0 wrong allows, only 503 while it is down, and clean
    answers (ALICE 200, MALLORY 401) from the first check after it is back."""
    redis = start_standalone(tmp_path / "redis")
    service = start_service(tmp_path / "countersign", redis_url=redis.url)
    try:
        service.mint(ALICE, BOB, MALLORY)
        service.grant(ALICE)
        with Load(service.base_url, service.tokens, [ALICE, MALLORY], rate=RATE) as load:
            load.wait(lambda s: _count(s, ALICE, 200) >= 20, timeout=20, what="steady allows")
            redis.kill()
            killed = time.monotonic()
            load.wait(
                lambda s: len(between(s, killed + 0.5, float("inf"))) >= 40,
                timeout=20,
                what="40 checks during the outage",
            )
            restarting = time.monotonic()
            redis.start()
            back = time.monotonic()
            load.wait(
                lambda s: any(x.who == ALICE and x.status == 200 for x in _after(s, back)),
                timeout=20,
                what="ALICE allowed again",
            )
            recovered = min(x.started for x in _after(load.shots(), back) if x.status == 200)
            load.wait(
                lambda s: len(_after(s, recovered + 1.0)) >= 20,
                timeout=20,
                what="a second of checks after recovery",
            )
            shots = load.stop()
    finally:
        service.stop()
        redis.stop()

    wrong = statuses(shots, MALLORY).get(200, 0)
    mallory_total = sum(statuses(shots, MALLORY).values())
    outage = statuses(between(shots, killed, restarting))
    after = _after(shots, back)
    unclean = [x for x in after if x.status != EXPECTED[x.who]]
    recovery = recovered - back
    ok = wrong == 0 and set(outage) == {503} and recovery <= RECOVERY_BOUND and not unclean
    scenario.record(
        f"wrong allows {wrong}/{mallory_total}; while down {shown(outage)}; ALICE allowed "
        f"{recovery:.2f} s after PING; after PING {len(unclean)}/{len(after)} wrong "
        f"({shown(statuses(unclean))})",
        ok=ok,
    )
    assert wrong == 0, "a user without a grant was let in"
    assert set(outage) == {503}, outage
    assert not unclean, f"after Redis came back: {shown(statuses(unclean))}"
    assert recovery <= RECOVERY_BOUND


def _count(shots: list[Shot], who: str, status: int) -> int:
    return sum(1 for s in shots if s.who == who and s.status == status)


def _after(shots: list[Shot], moment: float) -> list[Shot]:
    return [s for s in shots if s.started >= moment]
