"""Countersign on a three-master Redis Cluster: the whole story (ask, approve, allow, revoke,
refuse, audit) works; when the master serving Countersign's slot is killed the answers are 503
and never a wrong allow; when it is back, grants made before are still there."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.adapters.store.keys import AUDIT_KEY
from tests.faults.conftest import Scenario
from tests.faults.harness import (
    ALICE,
    BOB,
    EXPECTED,
    MALLORY,
    Load,
    Service,
    audit_verify,
    between,
    shown,
    start_service,
    statuses,
)
from tests.support.redis_topologies import start_cluster

pytestmark = pytest.mark.faults

CAROL = "carol@example.com"
RECOVERY_BOUND = 15.0


def test_cluster_story(tmp_path: Path, scenario: Scenario) -> None:
    """Story on a Cluster, then kill -9 the master of the `{cs}` slot and start it again."""
    cluster = start_cluster(tmp_path / "cluster")
    service = start_service(
        tmp_path / "countersign",
        redis_url=cluster.url,
        env={"COUNTERSIGN_REDIS_MODE": "cluster"},
    )
    try:
        service.mint(ALICE, BOB, MALLORY, CAROL)
        story = _story(service)
        intact, line = audit_verify(service)
        owner = cluster.owner_of(AUDIT_KEY)
        with Load(service.base_url, service.tokens, [ALICE, MALLORY], rate=20) as load:
            load.wait(lambda s: len(s) >= 10, timeout=20, what="checks before the kill")
            owner.kill()
            killed = time.monotonic()
            load.wait(
                lambda s: len(between(s, killed + 0.5, 1e12)) >= 20,
                timeout=20,
                what="checks while the master is down",
            )
            restarting = time.monotonic()
            owner.start()
            cluster.wait_ok()
            load.wait(
                lambda s: any(
                    x.who == ALICE and x.status == 200 for x in between(s, restarting, 1e12)
                ),
                timeout=RECOVERY_BOUND,
                what="ALICE allowed again",
            )
            recovered = min(
                x.ended for x in between(load.shots(), restarting, 1e12) if x.status == 200
            )
            shots = load.stop()
        carol_kept = service.check(CAROL) == 200
    finally:
        service.stop()
        cluster.stop()
    wrong = statuses(shots, MALLORY).get(200, 0)
    down = statuses(between(shots, killed, restarting))
    kept = "yes" if carol_kept else "NO"
    ok = story and intact and wrong == 0 and set(down) <= {503} and carol_kept
    scenario.record(
        f"story {'ok' if story else 'BROKEN'}; audit {'verifies' if intact else 'BROKEN'}; "
        f"slot master down: {shown(down)}, wrong allows {wrong}; allowed again "
        f"{recovered - restarting:.2f} s after restart; grants kept {kept}",
        ok=ok,
    )
    assert story
    assert intact, line
    assert wrong == 0
    assert set(down) <= {503}, down
    assert carol_kept


def _story(service: Service) -> bool:
    """ALICE and CAROL get grants; ALICE's is revoked and given again; MALLORY never has one."""
    grant = service.grant(ALICE)
    allowed = service.check(ALICE) == 200
    refused = service.check(MALLORY) == EXPECTED[MALLORY]
    revoked = service.revoke(grant).status_code == 200
    after_revoke = service.check(ALICE) == EXPECTED[MALLORY]
    service.grant(ALICE)
    service.grant(CAROL)
    return allowed and refused and revoked and after_revoke and service.check(ALICE) == 200
