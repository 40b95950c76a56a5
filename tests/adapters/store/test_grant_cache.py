"""The grant cache against a real Redis-compatible server: two replicas, each with its own
client, cache and tracking channel. Writes go through the real ApprovalService on replica A,
which runs on its own thread and event loop: while A works, B's loop is blocked, as a busy
replica's would be, so B's next read starts with the invalidation still unread on its socket."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import pytest
import redis
import uvloop

from app.adapters.observability.metrics import Metrics
from app.adapters.store.connection import connect
from app.adapters.store.grant_cache import MAX_AGE, CachedGrants, GrantCache
from app.adapters.store.keys import grant_key
from app.adapters.store.redis_grants import RedisGrantReader
from app.core.approvals import Person, Scope
from app.core.context import Identity
from app.core.decision import Effect, GrantState
from app.services.decide import DecisionService
from tests.support import waiting
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import (
    ALICE,
    BOB,
    GRAFANA_REASON,
    MALLORY,
    Clock,
    World,
    at_desk,
    person,
    service_over,
    shipped_policies,
)

T = TypeVar("T")
#: Revoke-then-read rounds in the race test: enough to meet an unread invalidation many times.
ROUNDS = 200
DEADLINE = 15.0
#: Every wait of this module: `waiting.until` with this module's deadline.
until = functools.partial(waiting.until, within=DEADLINE)
#: The event loops the races are run on: asyncio's own, and uvloop, which the service uses.
LOOPS = pytest.mark.parametrize("loop", ["asyncio", "uvloop"])


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One server for this module; every test empties it first."""
    return redis_server_factory()


@dataclass
class Replica:
    """One Countersign process's worth: a client, the approval service, the cached grant
    reader and the decision service over it, sharing one clock."""

    world: World
    cached: CachedGrants
    decisions: DecisionService
    metrics: Metrics
    racing: RevokedDuringRead | None = None
    task: asyncio.Task[None] | None = None

    @property
    def cache(self) -> GrantCache:
        """The GrantReader the decision service uses."""
        return self.cached.cache

    def scope(self, who: Identity = ALICE) -> Scope:
        """The scope `who` asks Grafana under from their desk."""
        return self.world.scope(who, "grafana")

    async def read(self, who: Identity = ALICE) -> GrantState:
        """What forward-auth reads for `who` on Grafana, through the cache."""
        return await self.cache.grant_state(Person.of(who), self.scope(who))

    async def decide(self, who: Identity = ALICE) -> Effect:
        """The forward-auth decision for `who` opening Grafana at their desk."""
        return (await self.decisions.decide(at_desk(who, "grafana"))).effect

    async def settled(self) -> None:
        """Until every change made so far has been applied (nothing unread on the channel)."""
        await until(self.cached.channel.quiet, what="the channel quiet")

    async def start(self) -> None:
        """Start the tracking channel and wait until it is confirmed."""
        self.task = asyncio.create_task(self.cached.run())
        await until(lambda: self.cached.channel.live, what="the channel up")

    async def close(self) -> None:
        """Stop the channel, close the client."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.world.client.aclose()


def replica(url: str, clock: Clock, *, racing: bool = False, **options: Any) -> Replica:
    """A replica over its own client to `url` (a client as the service builds it); with
    `racing`, misses are read by a RevokedDuringRead (`Replica.racing`)."""
    client = connect(url, timeout=2.0)
    world = service_over(client, clock, shipped_policies())
    reader = RevokedDuringRead(RedisGrantReader(client), url=url) if racing else None
    cached = CachedGrants.over(client, clock=clock, timeout=2.0, reader=reader, **options)
    metrics = Metrics()
    metrics.watch_grant_cache(cached.cache.counts)
    decisions = DecisionService(
        policies=lambda: world.policies,
        grants=cached.cache,
        clock=clock,
        observer=metrics,
        store_timeout=4.0,
    )
    return Replica(world, cached, decisions, metrics, racing=reader)


class RevokedDuringRead:
    """The real reader, except that while `armed` another replica deletes the grant key
    right after the MGET, and the answer waits until the cache has been told."""

    def __init__(self, inner: RedisGrantReader, *, url: str) -> None:
        self._inner = inner
        self._url = url
        self.armed = False
        self.cache: GrantCache | None = None

    async def grant_state(self, who: Person, scope: Scope) -> GrantState:
        """Read, then (armed) let the DEL land and be applied before answering."""
        state = await self._inner.grant_state(who, scope)
        if self.armed and self.cache is not None:
            counts = self.cache.counts
            seen = counts.invalidations
            change_and_wait(self._url, ("DEL", grant_key(who, scope)))
            await until(lambda: counts.invalidations > seen, what="the DEL reported")
        return state


class Elsewhere:
    """An event loop on its own thread, for replica A: `run` blocks the caller's loop until
    A's coroutine is done."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` there and wait for it here, without letting this loop run."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=DEADLINE * 2)

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=DEADLINE)
        self.loop.close()


@contextlib.contextmanager
def elsewhere() -> Iterator[Elsewhere]:
    """An Elsewhere, closed at the end."""
    thread = Elsewhere()
    try:
        yield thread
    finally:
        thread.close()


def scenario(
    url: str, body: Callable[[Replica], Awaitable[T]], *, loop: str = "asyncio", **options: Any
) -> T:
    """Run `body` with replica B (this thread, on an asyncio or a uvloop loop: the service
    runs on uvloop) over an emptied server."""

    async def go() -> T:
        sync = redis.Redis.from_url(url)
        sync.flushdb()
        sync.close()
        # No probes during a test: a probe's reply, unread for a moment, would turn a hit the
        # test counts on into a (correct) read from Redis.
        b = replica(url, Clock(), **{"probe_interval": 3600.0, **options})
        try:
            await b.start()
            return await body(b)
        finally:
            await b.close()

    return uvloop.run(go()) if loop == "uvloop" else asyncio.run(go())


@contextlib.asynccontextmanager
async def writer_at(url: str, clock: Clock, thread: Elsewhere) -> AsyncIterator[World]:
    """Replica A's approval service on `thread`'s loop (its client belongs to that loop)."""

    async def build() -> World:
        return service_over(connect(url, timeout=2.0), clock, shipped_policies())

    world = thread.run(build())
    try:
        yield world
    finally:
        thread.run(world.client.aclose())


async def grant_through(
    world: World, who: Identity = ALICE, *, duration: timedelta | None = None
) -> str:
    """`who` asks for Grafana and BOB approves (for `duration`): the grant's id."""
    outcome = await world.service.request_access(
        person(who),
        application="grafana",
        context=at_desk(who, "grafana"),
        justification=GRAFANA_REASON,
        duration=duration,
    )
    assert outcome.request is not None
    approved = await world.service.approve(
        person(BOB), outcome.request.id, duration=duration, comment=None
    )
    assert approved.grant_id is not None
    return approved.grant_id


def change_and_wait(url: str, *commands: tuple[Any, ...]) -> None:
    """Write as another replica would, then wait for the AOF as the service's writes do
    (WAITAOF, its own round trip): blocking, so the caller's loop does not run meanwhile."""
    with redis.Redis.from_url(url) as client:
        for command in commands:
            client.execute_command(*command)
        client.execute_command("WAITAOF", 1, 0, 2000)


def mget_calls(url: str) -> int:
    """How many MGETs the server has answered."""
    with redis.Redis.from_url(url) as client:
        stats = client.info("commandstats").get("cmdstat_mget", {})
    return int(stats.get("calls", 0))


# -- the hot path -----------------------------------------------------------------------------


def test_a_repeated_read_is_answered_from_memory(server: RedisServer) -> None:
    """The second read of the same person and scope asks Redis nothing."""

    async def body(b: Replica) -> tuple[GrantState, GrantState, int]:
        first = await b.read()
        before = mget_calls(server.url)
        second = await b.read()
        return first, second, mget_calls(server.url) - before

    first, second, asked = scenario(server.url, body)
    assert (first, second, asked) == (first, first, 0)


def test_nothing_at_all_is_cached_too(server: RedisServer) -> None:
    """ "No grant, no request, no justification" is an answer kept like any other."""

    async def body(b: Replica) -> tuple[int, int]:
        await b.read(MALLORY)
        await b.read(MALLORY)
        return b.cache.counts.misses, b.cache.counts.hits

    assert scenario(server.url, body) == (1, 1)


@LOOPS
def test_revocation_on_one_replica_denies_the_next_check_on_the_other(
    server: RedisServer, loop: str
) -> None:
    """Round after round: B caches "needs approval", A approves and B allows at once, then
    from memory, A revokes and B's very next check needs approval again."""

    async def body(b: Replica) -> tuple[list[str], int]:
        wrong: list[str] = []
        with elsewhere() as thread:
            async with writer_at(server.url, b.world.clock, thread) as a:
                for round_ in range(ROUNDS):
                    if await b.decide() is Effect.ALLOW:
                        wrong.append(f"{round_}: allowed before the approval")
                    grant_id = thread.run(grant_through(a))
                    if await b.decide() is not Effect.ALLOW:
                        wrong.append(f"{round_}: not allowed right after the approval")
                    # The read that met the approval's invalidation is not kept; the next is.
                    for _ in range(2):
                        if await b.decide() is not Effect.ALLOW:
                            wrong.append(f"{round_}: not allowed from memory")
                    thread.run(a.service.revoke(person(BOB), grant_id, reason=None))
                    if await b.decide() is Effect.ALLOW:
                        wrong.append(f"{round_}: still allowed after the revocation")
        return wrong, b.cache.counts.hits

    wrong, hits = scenario(server.url, body, loop=loop)
    assert wrong == []
    assert hits >= ROUNDS  # the allow from memory was a hit every round


@LOOPS
def test_a_change_still_unread_on_the_socket_is_not_answered_from_memory(
    server: RedisServer, loop: str
) -> None:
    """The grant key is deleted and the write confirmed while B's loop cannot run: B's next
    read goes to Redis and finds no grant."""

    async def body(b: Replica) -> tuple[GrantState, bool]:
        key = grant_key(Person.of(ALICE), b.scope())
        with elsewhere() as thread:
            async with writer_at(server.url, b.world.clock, thread) as a:
                thread.run(grant_through(a))
        await b.settled()
        await b.read()
        cached = await b.read()
        assert cached.grant_id is not None
        assert b.cache.counts.hits == 1
        change_and_wait(server.url, ("DEL", key))
        unread = not b.cached.channel.quiet()
        return await b.read(), unread

    after, unread = scenario(server.url, body, loop=loop)
    assert unread
    assert after.grant_id is None


def test_an_invalidation_during_a_read_keeps_that_read_out_of_memory(
    server: RedisServer,
) -> None:
    """A grant revoked between B's MGET and its answer: B returns what it read, but does not
    keep it; the next read asks Redis again and finds nothing."""

    async def body(b: Replica) -> tuple[GrantState, GrantState, int]:
        with elsewhere() as thread:
            async with writer_at(server.url, b.world.clock, thread) as a:
                thread.run(grant_through(a))
        await b.settled()
        racing = b.racing
        assert racing is not None
        racing.cache = b.cache
        racing.armed = True
        raced = await b.read()
        racing.armed = False
        return raced, await b.read(), b.cache.counts.hits

    raced, after, hits = scenario(server.url, body, racing=True)
    assert raced.grant_id is not None  # what the MGET saw, before the DEL
    assert (after.grant_id, hits) == (None, 0)


def test_an_answer_never_outlives_the_grant(server: RedisServer) -> None:
    """A grant for 10 minutes, read at 9:30: from memory at 9:50, not at 10:01, although Redis
    still holds the key (its TTL runs on the real clock)."""

    async def body(b: Replica) -> tuple[int, int, Effect]:
        with elsewhere() as thread:
            async with writer_at(server.url, b.world.clock, thread) as a:
                thread.run(grant_through(a, duration=timedelta(minutes=10)))
        await b.settled()
        b.world.clock.advance(timedelta(minutes=9, seconds=30))
        await b.read()
        b.world.clock.advance(timedelta(seconds=20))
        await b.read()
        b.world.clock.advance(timedelta(seconds=11))
        effect = await b.decide()
        return b.cache.counts.hits, b.cache.counts.misses, effect

    assert scenario(server.url, body) == (1, 2, Effect.NEEDS_APPROVAL)


def test_no_answer_is_kept_longer_than_the_cap(server: RedisServer) -> None:
    """Nothing to expire in the answer: it is still read again after MAX_AGE."""

    async def body(b: Replica) -> tuple[int, int]:
        await b.read(MALLORY)
        b.world.clock.advance(MAX_AGE - timedelta(seconds=1))
        await b.read(MALLORY)
        b.world.clock.advance(timedelta(seconds=1))
        await b.read(MALLORY)
        return b.cache.counts.hits, b.cache.counts.misses

    assert scenario(server.url, body) == (1, 2)


def test_the_least_recently_used_answer_goes_first_beyond_the_bound(server: RedisServer) -> None:
    """Bound 2: ALICE, MALLORY, ALICE again, then BOB: MALLORY's answer was the one dropped."""

    async def body(b: Replica) -> tuple[int, int, int]:
        for who in (ALICE, MALLORY, ALICE, BOB):
            await b.read(who)
        hits = b.cache.counts.hits
        await b.read(ALICE)
        await b.read(MALLORY)
        return hits, b.cache.counts.hits - hits, b.cache.size

    assert scenario(server.url, body, max_entries=2) == (1, 1, 2)


# -- losing the channel ------------------------------------------------------------------------


@LOOPS
def test_a_killed_channel_empties_the_cache_and_reads_go_to_redis_until_it_is_back(
    server: RedisServer, loop: str
) -> None:
    """CLIENT KILL of the tracking connection, with CLIENT TRACKING refused for a while: the
    cache is emptied, every read goes to Redis while the channel cannot come back, and once
    it is back answers are kept again."""

    async def body(b: Replica) -> tuple[bool, int, int, int, int]:
        await b.read()
        await b.read()
        assert b.cache.counts.hits == 1
        client_id = b.cached.channel.client_id
        change_and_wait(
            server.url,
            ("ACL", "SETUSER", "default", "-client|tracking"),
            ("CLIENT", "KILL", "ID", client_id),
        )
        served_while_unread = b.cache.counts.hits
        await b.read()
        unread_was_a_miss = b.cache.counts.hits == served_while_unread
        await until(lambda: not b.cached.channel.live, what="the channel down")
        emptied = b.cache.size
        for _ in range(3):
            await b.read()
        hits_while_down = b.cache.counts.hits - served_while_unread
        change_and_wait(server.url, ("ACL", "SETUSER", "default", "+client|tracking"))
        await until(lambda: b.cached.channel.live, what="the channel back")
        await b.read()
        await b.read()
        return (
            unread_was_a_miss,
            emptied,
            hits_while_down,
            b.cache.counts.hits - served_while_unread,
            b.cache.counts.lost,
        )

    try:
        result = scenario(server.url, body, loop=loop, retry_interval=0.05)
    finally:
        change_and_wait(server.url, ("ACL", "SETUSER", "default", "+client|tracking"))
    assert result == (True, 0, 0, 1, 1)


def test_flushdb_empties_the_cache(server: RedisServer) -> None:
    """A null invalidation (FLUSHDB) drops every answer; the channel stays up."""

    async def body(b: Replica) -> tuple[int, int, bool, int]:
        await b.read(ALICE)
        await b.read(MALLORY)
        assert b.cache.size == 2
        change_and_wait(server.url, ("FLUSHDB",))
        await until(lambda: b.cache.counts.redis_flushes == 1, what="the flush applied")
        size = b.cache.size
        await b.read(ALICE)
        return size, b.cache.counts.hits, b.cached.channel.live, b.cache.counts.lost

    assert scenario(server.url, body) == (0, 0, True, 0)


def test_a_stopped_server_leaves_nothing_to_answer_from(
    redis_server_factory: RedisServerFactory,
) -> None:
    """Redis stops: the cached grant is not served; the read fails (the caller denies)."""
    own = redis_server_factory()

    async def body(b: Replica) -> tuple[int, type[BaseException] | None]:
        with elsewhere() as thread:
            async with writer_at(own.url, b.world.clock, thread) as a:
                thread.run(grant_through(a))
        await b.settled()
        await b.read()
        await b.read()
        hits = b.cache.counts.hits
        own.stop()
        try:
            await b.read()
        except Exception as exc:  # which error it is does not matter
            return b.cache.counts.hits - hits, type(exc)
        return b.cache.counts.hits - hits, None

    served, failure = scenario(own.url, body)
    assert (served, failure is not None) == (0, True)


def test_metrics_count_hits_misses_invalidations_and_flushes(server: RedisServer) -> None:
    """/metrics reports the cache's hits, misses, invalidated keys, flushes and channel state."""

    async def body(b: Replica) -> str:
        await b.read()
        await b.read()
        change_and_wait(server.url, ("SET", grant_key(Person.of(ALICE), b.scope()), "x"))
        await until(lambda: b.cache.counts.invalidations == 1, what="invalidated")
        change_and_wait(server.url, ("FLUSHDB",))
        await until(lambda: b.cache.counts.redis_flushes == 1, what="flushed")
        change_and_wait(server.url, ("CLIENT", "KILL", "ID", b.cached.channel.client_id))
        await until(lambda: b.cache.counts.lost == 1, what="lost")
        await until(lambda: b.cached.channel.live, what="back")
        return b.metrics.render().decode()

    text = scenario(server.url, body, retry_interval=0.05)
    for line in (
        "countersign_grant_cache_hits_total 1.0",
        "countersign_grant_cache_misses_total 1.0",
        "countersign_grant_cache_invalidations_total 1.0",
        'countersign_grant_cache_flushes_total{reason="channel_lost"} 1.0',
        'countersign_grant_cache_flushes_total{reason="redis_flushed"} 1.0',
        "countersign_grant_cache_channel_up 1.0",
        "countersign_grant_cache_entries 0.0",
    ):
        assert line in text.splitlines(), line
