"""Countersign is killed (SIGKILL, the whole process group) in the middle of a burst of
asks, approvals and revocations: every record is whole afterwards (state, grant and audit
entries agree), the audit chain verifies, and a restarted service carries on."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.conftest import Scenario
from tests.faults.harness import (
    BOB,
    EXPECTED,
    MALLORY,
    POLICY_DIR,
    Service,
    audit_events,
    audit_verify,
    start_service,
    until,
)
from tests.support.countersign import start_countersign
from tests.support.redis_topologies import start_standalone

pytestmark = pytest.mark.faults

REQUESTERS = tuple(f"user{n}@example.com" for n in range(4))
#: Acknowledged writes before the kill: enough that several are in flight when it lands.
WRITES_BEFORE_KILL = 30


def test_countersign_kill_mid_burst(tmp_path: Path, scenario: Scenario) -> None:
    """kill -9 mid-burst: no half states, the audit verifies, and the workflow goes on."""
    redis = start_standalone(tmp_path / "redis")
    service = start_service(tmp_path / "countersign", redis_url=redis.url)
    again: Service | None = None
    try:
        service.mint(BOB, MALLORY, *REQUESTERS)
        acked = _burst_then_kill(service)
        again = Service(
            start_countersign(
                tmp_path / "countersign-again",
                redis_url=redis.url,
                policy_dir=POLICY_DIR,
                public_url=service.running.public_url,
                extra_env={"COUNTERSIGN_DATA_DIR": str(service.running.data_dir)},
            ),
            tokens=service.tokens,
        )
        intact, line = audit_verify(again)
        events = audit_events(redis.url)
        half = _half_states(again, events)
        carried_on = _carry_on(again)
    finally:
        if again is not None:
            again.stop()
        service.stop()
        redis.stop()
    kinds = Counter(e["type"] for e in events)
    ok = intact and not half and carried_on
    scenario.record(
        f"{acked} writes acked before kill; {kinds['request_submitted']} requests, "
        f"{kinds['grant_issued']} grants: half states {len(half)}; audit "
        f"{'verifies' if intact else 'BROKEN'}; after restart {'ok' if carried_on else 'stuck'}",
        ok=ok,
    )
    assert intact, line
    assert not half, half
    assert carried_on


def _burst_then_kill(service: Service) -> int:
    """Each requester loops ask, approve, revoke; SIGKILL the service once enough are acked."""
    acked = Counter[str]()
    lock = threading.Lock()
    enough = threading.Event()

    def loop(who: str) -> None:
        try:
            while True:
                request_id = service.ask(who)
                _count(acked, lock, enough)
                grant_id = service.approve(request_id)
                _count(acked, lock, enough)
                service.revoke(grant_id).raise_for_status()
                _count(acked, lock, enough)
        except (httpx.HTTPError, AssertionError):
            return  # the service is gone

    with ThreadPoolExecutor(max_workers=len(REQUESTERS)) as pool:
        for who in REQUESTERS:
            pool.submit(loop, who)
        until(enough.is_set, timeout=60, what=f"{WRITES_BEFORE_KILL} acknowledged writes")
        service.running.process.popen.kill()
        service.running.process.stop()
    return acked["writes"]


def _count(acked: Counter[str], lock: threading.Lock, enough: threading.Event) -> None:
    with lock:
        acked["writes"] += 1
        if acked["writes"] >= WRITES_BEFORE_KILL:
            enough.set()


def _half_states(service: Service, events: list[dict[str, Any]]) -> list[str]:
    """Every disagreement between a request, its grant, the audit log and forward-auth."""
    problems: list[str] = []
    by_request: dict[str, Counter[str]] = {}
    by_grant: dict[str, Counter[str]] = {}
    for event in events:
        if event.get("request_id"):
            by_request.setdefault(event["request_id"], Counter())[event["type"]] += 1
        if event.get("grant_id"):
            by_grant.setdefault(event["grant_id"], Counter())[event["type"]] += 1
    for request_id, kinds in by_request.items():
        request = service.call("GET", f"/api/v1/access-requests/{request_id}", BOB).json()
        approved = request["status"] == "approved"
        if kinds["request_submitted"] != 1 or kinds["request_approved"] != approved:
            problems.append(f"request {request_id} is {request['status']} with events {kinds}")
        if approved != bool(request["grant_id"]):
            problems.append(f"request {request_id} is {request['status']} with no grant")
    for grant_id, kinds in by_grant.items():
        grant = service.call("GET", f"/api/v1/grants/{grant_id}", BOB).json()
        revoked = grant["status"] == "revoked"
        if kinds["grant_issued"] != 1 or kinds["grant_revoked"] != revoked:
            problems.append(f"grant {grant_id} is {grant['status']} with events {kinds}")
    for who in REQUESTERS:
        active = service.call("GET", "/api/v1/grants?active=true&mine=true", who).json()["items"]
        answer = service.check(who)
        if answer != (200 if active else EXPECTED[MALLORY]):
            problems.append(f"{who}: forward-auth {answer} with {len(active)} active grants")
    return problems


def _carry_on(service: Service) -> bool:
    """Every requester ends up allowed through the restarted service (a pending request left
    by the kill is approved as it is; otherwise they ask again)."""
    for who in REQUESTERS:
        if service.check(who) == 200:
            continue
        service.approve(service.ask(who))
        if service.check(who) != 200:
            return False
    return True
