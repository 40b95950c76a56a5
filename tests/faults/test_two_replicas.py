"""Two Countersign replicas share one Redis: a revocation made through one is the answer of
the other's very next forward-auth check (no replica keeps a grant it was not told about)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.faults.conftest import Scenario
from tests.faults.harness import ALICE, BOB, EXPECTED, MALLORY, Service, start_service
from tests.support.redis_topologies import start_standalone

TRIALS = 10


def test_revocation_reaches_the_other_replica(tmp_path: Path, scenario: Scenario) -> None:
    """Approve and revoke through one replica, in turn A and B: the other's next check after
    the revoke's answer refuses ALICE every time."""
    redis = start_standalone(tmp_path / "redis")
    first = start_service(tmp_path / "a", redis_url=redis.url)
    second: Service | None = None
    missed = 0
    try:
        # The same dev keys (one instance per data directory: a copy of the first one's), so
        # both replicas trust the dev tokens the first one mints.
        keys = tmp_path / "b-data"
        shutil.copytree(
            first.running.data_dir, keys, ignore=shutil.ignore_patterns("countersign.lock")
        )
        second = start_service(
            tmp_path / "b", redis_url=redis.url, env={"COUNTERSIGN_DATA_DIR": str(keys)}
        )
        first.mint(ALICE, BOB, MALLORY)
        second.tokens = first.tokens
        for trial in range(TRIALS):
            writer, reader = (first, second) if trial % 2 == 0 else (second, first)
            grant = writer.grant(ALICE)
            assert reader.check(ALICE) == 200
            assert writer.revoke(grant).status_code == 200
            if reader.check(ALICE) != EXPECTED[MALLORY]:
                missed += 1
    finally:
        if second is not None:
            second.stop()
        first.stop()
        redis.stop()
    scenario.record(
        f"other replica still allowed after revoke: {missed}/{TRIALS} next requests",
        ok=missed == 0,
    )
    assert missed == 0
