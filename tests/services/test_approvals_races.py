"""The workflow under contention and failure: many reviewers at once, two replicas sharing one
Redis, and Redis restarting mid-story. Nothing is counted twice, decided twice or lost."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.adapters.store import audit
from app.core.approvals import ApprovalError, ErrorCode, RequestStatus, ReviewDecision
from app.core.context import Identity
from tests.support.countersign import start_countersign
from tests.support.procs import ManagedProcess
from tests.support.redis_server import RedisServer, RedisServerFactory, ping, start_redis_server
from tests.support.workflow import (
    ALICE,
    BOB,
    CAROL,
    CTO,
    DAVE,
    POLICY_DIR,
    Clock,
    World,
    at_desk,
    audit_events,
    person,
    service_over,
    shipped_policies,
    snapshot,
    world,
)

#: Replicas: threads, each with its own event loop and store, so that WATCH (not the in-process
#: turn taking of one store) is what keeps them apart.
REPLICAS = 10


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


async def ask(w: World, application: str = "grafana", who: Identity = ALICE) -> str:
    """`who` (ALICE unless said) asks for `application`; the request id."""
    reasons = {"grafana": "INC-42 dashboards are blank", "db-console": "CHG-1234 add an index"}
    outcome = await w.service.request_access(
        person(who),
        application=application,
        context=at_desk(who, application),
        justification=reasons[application],
        duration=None,
    )
    assert outcome.request is not None
    return outcome.request.id


def engineer(n: int) -> Identity:
    """Another engineer, like ALICE."""
    return Identity(
        f"u-eng{n}", f"eng{n}@example.com", frozenset({"engineering"}), frozenset({"mfa"})
    )


# -- many reviewers at once ---------------------------------------------------------------------


Decision = tuple[str, Identity, ReviewDecision]
Outcome = RequestStatus | ErrorCode


async def decide(w: World, decision: Decision) -> tuple[str, Outcome]:
    """One reviewer's decision through replica `w`: the request, and the status the call
    returned or the code it was refused with."""
    request_id, who, verdict = decision
    if verdict is ReviewDecision.APPROVE:
        call = w.service.approve(person(who), request_id, duration=None, comment=None)
    else:
        call = w.service.deny(person(who), request_id, comment="no")
    try:
        return request_id, (await call).status
    except ApprovalError as refused:
        return request_id, refused.code


def replica(
    url: str, clock: Clock, decisions: list[Decision], start: threading.Barrier
) -> list[tuple[str, Outcome]]:
    """One replica's process: its own event loop, client and service (as `countersign serve`
    has one of each), all its decisions at once, released together with every other replica."""

    async def go() -> list[tuple[str, Outcome]]:
        client = Redis.from_url(url, max_connections=len(decisions))
        try:
            await asyncio.gather(*(client.ping() for _ in decisions))  # fill the pool
            w = service_over(client, clock, shipped_policies())
            start.wait(timeout=10)  # blocks this replica's loop only while nothing runs on it
            return list(await asyncio.gather(*(decide(w, d) for d in decisions)))
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_fifty_concurrent_reviews_decide_once(server: RedisServer) -> None:
    """Fifty approvals and denials by CAROL, DAVE and the CTO (repeats included) from ten
    replicas at once on a db-console request (three such requests contested side by side):
    one terminal state and one terminal event each, each approver counted once, and an audit
    chain that verifies."""
    approve, deny = ReviewDecision.APPROVE, ReviewDecision.DENY
    clock = Clock()
    askers = [ALICE, *(engineer(n) for n in range(2))]

    async def setup() -> list[str]:
        async with world(server.url, clock=clock) as w:
            return [await ask(w, "db-console", who) for who in askers]

    request_ids = asyncio.run(setup())
    decisions: list[Decision] = []
    for request_id in request_ids:
        decisions += [(request_id, who, approve) for who in (CAROL, DAVE, CTO) for _ in range(15)]
        decisions += [(request_id, who, deny) for who in (CAROL, DAVE, CTO, DAVE, CAROL)]
    random.shuffle(decisions)

    async def together() -> list[tuple[str, Outcome]]:
        chunks = [decisions[i::REPLICAS] for i in range(REPLICAS)]
        start = threading.Barrier(REPLICAS)
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=REPLICAS) as threads:
            results = await asyncio.gather(
                *(
                    loop.run_in_executor(threads, replica, server.url, clock, chunk, start)
                    for chunk in chunks
                )
            )
        return [outcome for chunk in results for outcome in chunk]

    outcomes = asyncio.run(together())

    async def inspect(w: World, request_id: str) -> None:
        stored = await w.store.load_request(request_id)
        assert stored is not None
        assert stored.status in (RequestStatus.APPROVED, RequestStatus.DENIED)
        approvers = [r.reviewer for r in stored.reviews if r.decision is approve]
        assert len(approvers) == len(set(approvers))
        mine = [o for r, o in outcomes if r == request_id]
        assert len(mine) == 50
        ended = Counter(o for o in mine if isinstance(o, RequestStatus) and o.terminal)
        assert ended == Counter({stored.status: 1})
        assert {o for o in mine if isinstance(o, ErrorCode)} <= {ErrorCode.REQUEST_NOT_PENDING}
        events = [e for e in await audit_events(w.client) if e["request_id"] == request_id]
        kinds = Counter(e["type"] for e in events)
        assert kinds["request_approved"] + kinds["request_denied"] == 1
        assert kinds["request_reviewed"] == len(stored.reviews)
        assert kinds["grant_issued"] == (stored.status is RequestStatus.APPROVED)

    async def check() -> None:
        async with world(server.url, clock=clock, flush=False) as w:
            for request_id in request_ids:
                await inspect(w, request_id)
            verdict = await audit.verify(w.client)
            assert verdict.ok, verdict

    asyncio.run(check())


# -- two replicas --------------------------------------------------------------------------------


def test_an_approval_on_one_replica_is_the_next_decision_on_another(server: RedisServer) -> None:
    """Replica A approves; replica B's next read sees the grant. B revokes; A's next read does
    not. Each replica has its own Redis client and service."""

    async def go() -> None:
        clock = Clock()
        async with (
            world(server.url, clock=clock) as a,
            world(server.url, clock=clock, flush=False) as b,
        ):
            approved = await a.service.approve(
                person(BOB), await ask(a), duration=None, comment=None
            )
            assert approved.grant_id is not None
            seen_by_b = await b.hot_state(ALICE, "grafana")
            assert seen_by_b.grant_id == approved.grant_id
            assert (await b.service.get_request(person(ALICE), approved.id)).status is (
                RequestStatus.APPROVED
            )
            await b.service.revoke(person(BOB), approved.grant_id, reason="incident over")
            seen_by_a = await a.hot_state(ALICE, "grafana")
            assert seen_by_a.grant_id is None

    asyncio.run(go())


def test_forward_auth_through_another_replica_follows_approval_and_revocation(
    server: RedisServer, tmp_path: Path
) -> None:
    """A real `countersign serve` shares Redis with an in-process replica: its /auth/nginx
    answer for ALICE turns to 200 on the approval made elsewhere, and back on revocation."""
    running = start_countersign(
        tmp_path / "countersign",
        redis_url=server.url,
        policy_dir=POLICY_DIR,
        public_url="http://auth.example.com:8000",
    )
    try:
        token = running.mint(email="alice@example.com", groups=["engineering"])
        headers = {
            "X-Original-URL": "https://grafana.example.com/d/home",
            "X-Original-Method": "GET",
            "Accept": "text/html",
            "Authorization": f"Bearer {token}",
        }

        def through_nginx() -> tuple[int, str]:
            answer = httpx.get(f"{running.base_url}/auth/nginx", headers=headers, timeout=10)
            return answer.status_code, answer.headers.get("location", "")

        # The same person as the token: the dev issuer's subject is the e-mail.
        dev_alice = dataclasses.replace(
            ALICE, subject="alice@example.com", issuer="http://auth.example.com:8000/dev"
        )

        async def go() -> list[tuple[int, str]]:
            statuses = []
            async with world(server.url) as w:
                request_id = await ask(w, who=dev_alice)
                statuses.append(through_nginx())
                approved = await w.service.approve(
                    person(BOB), request_id, duration=None, comment=None
                )
                statuses.append(through_nginx())
                assert approved.grant_id is not None
                await w.service.revoke(person(BOB), approved.grant_id, reason=None)
                statuses.append(through_nginx())
            return statuses

        pending, granted, revoked = asyncio.run(go())
    finally:
        running.stop()
    to_request_page = "http://auth.example.com:8000/request?app=grafana&rd="
    assert granted == (200, "")
    assert pending[0] == revoked[0] == 401
    assert pending[1].startswith(to_request_page)
    assert revoked[1].startswith(to_request_page)


# -- Redis restarts --------------------------------------------------------------------------------


def restart(old: RedisServer) -> RedisServer:
    """Start a server on the same port and data directory the stopped one used."""
    process = ManagedProcess(
        f"redis:{old.port}:again",
        old.process.argv,
        log_path=old.directory / "server-again.log",
    )
    process.wait_until(lambda: ping(old.port), timeout=15, what="answering PING")
    return RedisServer(process, old.port, old.directory)


def test_nothing_is_lost_when_redis_restarts(tmp_path: Path) -> None:
    """Requests, reviews, a grant, a justified session and the audit chain survive a restart
    of an AOF server on the same port and directory, and the workflow carries on after it."""
    server = start_redis_server(tmp_path / "aof", appendonly=True)
    servers = [server]
    try:

        async def before() -> tuple[dict[str, object], dict[str, Any]]:
            async with world(server.url) as w:
                await w.client.config_set("appendfsync", "always")
                approved = await w.service.approve(
                    person(BOB), await ask(w), duration=None, comment=None
                )
                db = await ask(w, "db-console")
                await w.service.approve(person(CAROL), db, duration=None, comment=None)
                await w.service.request_access(
                    person(ALICE),
                    application="wiki",
                    context=at_desk(ALICE, "wiki"),
                    justification="looking for the on-call runbook",
                    duration=None,
                )
                return await snapshot(w.client), {"db": db, "grant": approved.grant_id}

        stored, ids = asyncio.run(before())
        server.stop()
        servers.append(restart(server))

        async def after() -> None:
            async with world(server.url, flush=False) as w:
                assert await snapshot(w.client) == stored
                assert (await audit.verify(w.client)).ok
                state = await w.hot_state(ALICE, "grafana")
                assert state.grant_id == ids["grant"]
                done = await w.service.approve(person(DAVE), ids["db"], duration=None, comment=None)
                assert done.status is RequestStatus.APPROVED
                verdict = await audit.verify(w.client)
                assert (verdict.ok, verdict.checked) == (True, len(await audit_events(w.client)))

        asyncio.run(after())
    finally:
        for each in servers:
            each.stop()
