"""Under COUNTERSIGN_DURABILITY=fsync an acknowledged revocation survives Redis being killed
(SIGKILL) right after the answer: looped, the grant never comes back after the restart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.faults.conftest import Scenario
from tests.faults.harness import ALICE, BOB, EXPECTED, MALLORY, Service, start_service, until
from tests.support.redis_topologies import Node, start_standalone

pytestmark = pytest.mark.faults

TRIALS = int(os.environ.get("FAULTS_TRIALS", "10"))


def test_revoke_then_kill_is_never_undone(tmp_path: Path, scenario: Scenario) -> None:
    """Grant, revoke (200), kill -9 Redis at once, restart it: ALICE is refused every time."""
    redis = start_standalone(tmp_path / "redis")
    service = start_service(
        tmp_path / "countersign", redis_url=redis.url, env={"COUNTERSIGN_DURABILITY": "fsync"}
    )
    undone: list[int] = []
    acknowledged = 0
    try:
        service.mint(ALICE, BOB, MALLORY)
        for trial in range(TRIALS):
            grant = service.grant(ALICE)
            assert service.check(ALICE) == 200
            answer = service.revoke(grant)
            redis.kill()
            assert answer.status_code == 200, answer.text
            acknowledged += 1
            redis.start()
            if _after_restart(service, redis) == 200:
                undone.append(trial)
    finally:
        service.stop()
        redis.stop()
    ok = not undone and acknowledged == TRIALS
    scenario.record(
        f"revocations undone {len(undone)}/{acknowledged} (revoke 200, kill -9, restart)", ok=ok
    )
    assert not undone, f"trials {undone}: a revoked grant let ALICE in again"


def _after_restart(service: Service, redis: Node) -> int:
    """ALICE's first decided answer (not 503) once Redis is back."""
    answers: list[int] = []

    def decided() -> bool:
        answers.append(service.check(ALICE))
        return answers[-1] != 503

    until(decided, timeout=15, what=f"a decision after restarting {redis.name}")
    assert answers[-1] in (200, EXPECTED[MALLORY]), answers
    return answers[-1]
