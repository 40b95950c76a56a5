"""The grant cache and planned windows, against a real Redis-compatible server: an answer kept
in memory for an upcoming grant never lets the person in before the window's start, lets them
in from that second on, and never after the window's end."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.decision import Effect
from app.core.reasons import Reason
from tests.adapters.store.test_grant_cache import Replica, scenario
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import ALICE, BOB, GRAFANA_REASON, at_desk, person

SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One server for this module; every test empties it first."""
    return redis_server_factory()


async def plan_window(b: Replica, *, starts_in: timedelta, length: timedelta) -> None:
    """ALICE asks for Grafana from `starts_in` from now for `length`; BOB approves at once."""
    service = b.world.service
    outcome = await service.request_access(
        person(ALICE),
        application="grafana",
        context=at_desk(ALICE, "grafana"),
        justification=GRAFANA_REASON,
        duration=length,
        starts_at=b.world.clock() + starts_in,
    )
    assert outcome.request is not None
    await service.approve(person(BOB), outcome.request.id, duration=None, comment=None)
    await b.settled()


def test_a_cached_upcoming_grant_opens_and_closes_to_the_second(server: RedisServer) -> None:
    """Before the start: `grant-upcoming`, from memory; at the start second and until the
    second before the end: allowed, still from memory; at the end: not allowed."""

    async def body(b: Replica) -> None:
        clock = b.world.clock
        # Inside the cache's MAX_AGE (60 s): every answer may come from memory.
        start = clock() + 20 * SECOND
        end = start + 30 * SECOND
        await plan_window(b, starts_in=20 * SECOND, length=30 * SECOND)
        upcoming = await b.decisions.decide(at_desk(ALICE, "grafana"))
        assert upcoming.effect is Effect.NEEDS_APPROVAL
        assert upcoming.reasons[0] is Reason.GRANT_UPCOMING
        counts = b.cache.counts
        misses = counts.misses
        clock.now = start - SECOND
        assert (await b.decisions.decide(at_desk(ALICE, "grafana"))).effect is not Effect.ALLOW
        clock.now = start
        assert (await b.decisions.decide(at_desk(ALICE, "grafana"))).effect is Effect.ALLOW
        clock.now = end - SECOND
        assert (await b.decisions.decide(at_desk(ALICE, "grafana"))).effect is Effect.ALLOW
        # Every answer so far after the first came from memory, judged at its own second.
        assert counts.misses == misses
        clock.now = end
        ended = await b.decisions.decide(at_desk(ALICE, "grafana"))
        assert ended.effect is not Effect.ALLOW
        assert Reason.GRANT_EXPIRED in ended.reasons

    scenario(server.url, body)
