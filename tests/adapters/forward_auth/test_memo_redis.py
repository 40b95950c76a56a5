"""The decision memo over the real grant cache and a real Redis-compatible server: a grant
written or deleted in Redis ends a remembered decision on the next check, and while the
tracking channel is down no grant-dependent decision is answered from memory."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
import redis

from app.adapters.forward_auth.memo import DecisionMemo
from app.adapters.store.connection import connect
from app.adapters.store.grant_cache import CachedGrants
from app.adapters.store.keys import grant_key
from app.core.approvals.person import Person, Scope
from app.core.context import AccessContext
from app.core.decision import Decision, Effect
from app.services.decide import DecisionService
from tests.adapters.forward_auth.memo_support import Observer
from tests.support import waiting
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import ALICE, at_desk, shipped_policies

DEADLINE = 15.0
#: Every wait of this module: `waiting.until` with this module's deadline.
until = functools.partial(waiting.until, within=DEADLINE)
#: One check of ALICE at Grafana through the memo: (effect, memo hits so far).
Seen = tuple[Effect, int]
Check = Callable[[], Awaitable[Seen]]
POLICIES = shipped_policies()
GRAFANA = POLICIES.applications["grafana"]
SECOND_OPINION = GRAFANA.policy_named("Engineers, second opinion required")


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One server for this module."""
    return redis_server_factory()


def now() -> datetime:
    return datetime.now(UTC)


def write_grant(url: str, *, seconds: int = 3600) -> None:
    """ALICE's active Grafana grant, as the store writes it."""
    assert SECOND_OPINION is not None
    scope = Scope.of("grafana", SECOND_OPINION)
    value = {"id": "g1", "expires_at": time.time() + seconds, "policy": scope.policy}
    with redis.Redis.from_url(url) as client:
        client.set(grant_key(Person.of(ALICE), scope), json.dumps(value), ex=seconds)


def delete_grant(url: str) -> None:
    assert SECOND_OPINION is not None
    with redis.Redis.from_url(url) as client:
        client.delete(grant_key(Person.of(ALICE), Scope.of("grafana", SECOND_OPINION)))


def run(url: str, body: Callable[[CachedGrants, Check], Awaitable[list[Seen]]]) -> list[Seen]:
    """`body(cached, check)` with the channel up; `check()` decides ALICE at Grafana through
    the memo and returns (effect, memo hits)."""

    async def main() -> list[Seen]:
        client = connect(url, timeout=2.0)
        cached = CachedGrants.over(client, clock=now, timeout=2.0, retry_interval=0.05)
        observer = Observer()
        decisions = DecisionService(
            policies=lambda: POLICIES,
            grants=cached.cache,
            memory=cached.cache,
            clock=now,
            observer=observer,
            store_timeout=2.0,
        )
        memo = DecisionMemo(
            policies=lambda: POLICIES, memory=cached.cache, clock=now, observer=observer
        )
        context: AccessContext = at_desk(ALICE, "grafana")

        async def check() -> Seen:
            decision: Decision | None = memo.recall(context)
            if decision is None:
                decision = await decisions.decide(context)
                memo.remember(context, decision)
            return decision.effect, memo.counts.hits

        task = asyncio.create_task(cached.run())
        try:
            await until(lambda: cached.channel.live, what="the channel up")
            return await body(cached, check)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await client.aclose()

    return asyncio.run(main())


def test_a_grant_deleted_in_redis_ends_the_remembered_allow(server: RedisServer) -> None:
    """ALICE's allow through her grant is remembered; the grant is deleted in Redis; once
    Redis's push has arrived her next check needs approval."""
    delete_grant(server.url)

    async def body(cached: CachedGrants, check: Check) -> list[Seen]:
        write_grant(server.url)
        await until(cached.channel.quiet, what="the channel quiet")
        seen = [await check(), await check()]
        delete_grant(server.url)
        await until(cached.channel.quiet, what="the invalidation applied")
        seen.append(await check())
        return seen

    assert run(server.url, body) == [
        (Effect.ALLOW, 0),
        (Effect.ALLOW, 1),
        (Effect.NEEDS_APPROVAL, 1),
    ]


def test_a_killed_channel_stops_grant_answers_from_memory(server: RedisServer) -> None:
    """CLIENT KILL of the tracking connection: the next checks are decided from Redis, none
    from memory, until the channel is back."""
    delete_grant(server.url)

    async def body(cached: CachedGrants, check: Check) -> list[Seen]:
        write_grant(server.url)
        await until(cached.channel.quiet, what="the channel quiet")
        seen = [await check(), await check()]
        with redis.Redis.from_url(server.url) as client:
            client.execute_command("CLIENT", "KILL", "ID", cached.channel.client_id)
        await until(lambda: not cached.channel.live, what="the channel down")
        seen.append(await check())
        return seen

    assert run(server.url, body) == [(Effect.ALLOW, 0), (Effect.ALLOW, 1), (Effect.ALLOW, 1)]
