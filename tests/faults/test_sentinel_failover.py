"""The Redis primary behind Sentinel is killed (SIGKILL) under a stream of forward-auth
checks: the Sentinels promote the replica, Countersign follows it, no acknowledged grant is
lost, nobody without a grant gets in, and the time to recover is printed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.conftest import Scenario
from tests.faults.harness import (
    ALICE,
    APPLICATION,
    BOB,
    EXPECTED,
    MALLORY,
    Load,
    Service,
    between,
    shown,
    start_service,
    statuses,
    until,
)
from tests.support.redis_topologies import MASTER_NAME, start_sentinel_set

pytestmark = pytest.mark.faults

GRANTED = ("carol@example.com", "dave@example.com")
#: Sentinel calls the primary down after 0.5 s and elects within a second or two on loopback.
RECOVERY_BOUND = 10.0


def test_sentinel_failover(tmp_path: Path, scenario: Scenario) -> None:
    """kill -9 the primary right after a grant is acknowledged: after the failover every
    grant still allows, MALLORY was never let in, and once a replica is back, writes go to
    the new primary."""
    topology = start_sentinel_set(tmp_path / "redis")
    service = start_service(
        tmp_path / "countersign",
        redis_url=topology.url,
        env={
            "COUNTERSIGN_REDIS_MODE": "sentinel",
            "COUNTERSIGN_REDIS_SENTINEL_MASTER": MASTER_NAME,
            "COUNTERSIGN_DURABILITY": "replicas:1",
        },
    )
    try:
        service.mint(ALICE, BOB, MALLORY, *GRANTED)
        for who in GRANTED:
            service.grant(who)
        with Load(service.base_url, service.tokens, [ALICE, MALLORY], rate=20) as load:
            service.grant(ALICE)  # acknowledged, then the primary dies at once
            old = topology.primary_port()
            assert old is not None
            topology.node(old).kill()
            killed = time.monotonic()
            topology.wait_promoted(old)
            promoted = time.monotonic()
            load.wait(
                lambda s: any(x.who == ALICE and x.status == 200 for x in between(s, killed, 1e12)),
                timeout=RECOVERY_BOUND + 10,
                what="ALICE allowed after the failover",
            )
            recovered = min(x.ended for x in between(load.shots(), killed, 1e12) if x.status == 200)
            load.wait(
                lambda s: len(between(s, recovered + 1.0, 1e12)) >= 10,
                timeout=20,
                what="checks after recovery",
            )
            shots = load.stop()
        kept = [who for who in GRANTED if service.check(who) == 200]
        # replicas:1 refuses writes (503) while the new primary has no replica: bring the old
        # primary back, which the Sentinels turn into its replica.
        topology.node(old).start()
        topology.wait_healthy()
        new_write = _write_again(service)
    finally:
        service.stop()
        topology.stop()
    wrong = statuses(shots, MALLORY).get(200, 0)
    during = between(shots, killed, recovered)
    lost = [x for x in between(shots, killed, 1e12) if x.who == ALICE and x.status == 403]
    after = between(shots, recovered, 1e12)
    unclean = [x for x in after if x.status != EXPECTED[x.who]]
    took = recovered - killed
    ok = (
        wrong == 0
        and not lost
        and len(kept) == len(GRANTED)
        and took <= RECOVERY_BOUND
        and not unclean
        and new_write
    )
    scenario.record(
        f"recovered {took:.2f} s after kill ({promoted - killed:.2f} s to promotion); during "
        f"{shown(statuses(during))}; grants lost {len(lost) + len(GRANTED) - len(kept)}; "
        f"wrong allows {wrong}; after {len(unclean)}/{len(after)} wrong",
        ok=ok,
    )
    assert wrong == 0
    assert not lost, "ALICE's acknowledged grant was gone after the failover"
    assert kept == list(GRANTED)
    assert not unclean, shown(statuses(unclean))
    assert new_write
    assert took <= RECOVERY_BOUND


def _write_again(service: Service) -> bool:
    """MALLORY's request is accepted (once the new primary's replica is back and Countersign
    has seen it) and BOB's approval lets her in."""
    asked: list[int] = []

    def accepted() -> bool:
        answer = service.call(
            "POST", "/api/v1/access-requests", MALLORY, json={"application": APPLICATION}
        )
        asked.append(answer.status_code)
        return answer.status_code in (200, 201)

    until(accepted, timeout=20, what=f"a write accepted after the failover ({asked[-3:]})")
    service.approve(service.ask(MALLORY))
    return service.check(MALLORY) == 200
