"""The hot path's grant cache: `grant_state` answers per (person, scope) — "nothing at all"
included — kept in memory and made exact by Redis's invalidation pushes (tracking.py).

An answer is served from memory only while the tracking channel is live and quiet (nothing
unread on its socket); it is dropped when Redis reports one of its three access keys changed,
when Redis was flushed, and all answers go whenever the channel is lost or comes back. A read
that an invalidation overtook is returned but never kept (a generation counter). No answer is
kept past the grant's or justification's own end, nor past `MAX_AGE`. Why this is exact, and
where it stops being so: docs/adr/0011-grant-cache.md.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from app.adapters.store.keys import PREFIX, access_tag
from app.adapters.store.redis_grants import RedisGrantReader
from app.adapters.store.tracking import PROBE_INTERVAL, RETRY_INTERVAL, TrackingChannel
from app.adapters.store.tracking_target import topology_of
from app.core.approvals.person import Person, Scope
from app.core.decision import GrantState
from app.services.ports import Clock, GrantReader

#: The keys the cache is built from (keys.access_keys) and Redis reports on.
ACCESS_PREFIX = f"{PREFIX}:access:"
#: At most this many answers are kept (a few hundred bytes each, ~10 MB in all); the least
#: recently used goes first. People active within a minute rarely come near it.
MAX_ENTRIES = 20_000
#: The last line of defence: no answer is served from memory for longer than this, whatever
#: the channel says.
MAX_AGE = timedelta(seconds=60)

log = structlog.get_logger("countersign.grant_cache")


class Channel(Protocol):
    """What the cache asks of its invalidation channel on every read."""

    def quiet(self) -> bool:
        """Whether every change made so far has been applied (no answer may come from memory
        otherwise)."""
        ...


class CacheCounts:
    """What /metrics reports (plain integers: a Prometheus counter costs more per hit)."""

    __slots__ = ("entries", "hits", "invalidations", "live", "lost", "misses", "redis_flushes")

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        #: access keys Redis reported changed
        self.invalidations = 0
        #: whole-cache flushes: the channel was lost; Redis was flushed (FLUSHDB, FLUSHALL)
        self.lost = 0
        self.redis_flushes = 0
        self.live = False
        self.entries = 0


@dataclass(frozen=True, slots=True)
class _Entry:
    state: GrantState
    until: datetime
    tag: str


class GrantCache:
    """Implements services.ports.GrantReader in front of another reader, and
    tracking.Listener for its channel."""

    def __init__(
        self,
        reader: GrantReader,
        *,
        clock: Clock,
        max_entries: int = MAX_ENTRIES,
        max_age: timedelta = MAX_AGE,
    ) -> None:
        self._reader = reader
        self._clock = clock
        self._max_entries = max_entries
        self._max_age = max_age
        self._entries: OrderedDict[tuple[Person, Scope], _Entry] = OrderedDict()
        self._by_tag: dict[str, tuple[Person, Scope]] = {}
        #: Moves on every invalidation and channel change: a read that saw it move is not kept.
        self._generation = 0
        self._channel: Channel | None = None
        self.counts = CacheCounts()

    def follow(self, channel: Channel) -> None:
        """Serve from memory only while `channel` is quiet."""
        self._channel = channel

    @property
    def size(self) -> int:
        """How many answers are kept."""
        return len(self._entries)

    def cached(self, person: Person, scope: Scope) -> GrantState | None:
        """The answer from memory when the channel is quiet and the answer young enough, else
        None (read it with `grant_state`). No I/O and no await: a caller may skip its store
        timeout for it."""
        channel = self._channel
        if channel is None or not channel.quiet():
            return None
        key = (person, scope)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() < entry.until:
            self._entries.move_to_end(key)
            self.counts.hits += 1
            return entry.state
        self._forget(key)
        return None

    async def grant_state(self, person: Person, scope: Scope) -> GrantState:
        """From memory (`cached`), else from the reader (its errors pass through: the caller
        fails closed), kept if no invalidation overtook the read."""
        state = self.cached(person, scope)
        if state is not None:
            return state
        self.counts.misses += 1
        generation = self._generation
        state = await self._reader.grant_state(person, scope)
        channel = self._channel
        if generation == self._generation and channel is not None and channel.quiet():
            self._keep((person, scope), state)
        return state

    def _keep(self, key: tuple[Person, Scope], state: GrantState) -> None:
        """Remember `state` until the first of: MAX_AGE, the grant's end, the justification's."""
        until = self._clock() + self._max_age
        for end in (state.grant_expires_at, state.justified_until):
            if end is not None and end < until:
                until = end
        if until <= self._clock():
            return
        person, scope = key
        tag = access_tag(person, scope)
        self._entries[key] = _Entry(state, until, tag)
        self._entries.move_to_end(key)
        self._by_tag[tag] = key
        while len(self._entries) > self._max_entries:
            _, oldest = self._entries.popitem(last=False)
            self._by_tag.pop(oldest.tag, None)
        self.counts.entries = len(self._entries)

    def _forget(self, key: tuple[Person, Scope]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._by_tag.pop(entry.tag, None)
        self.counts.entries = len(self._entries)

    def _clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._by_tag.clear()
        self.counts.entries = 0

    # -- tracking.Listener ------------------------------------------------------------------
    def invalidate(self, keys: Sequence[str]) -> None:
        """Access keys changed: drop the answers built from them; reads in flight are not kept."""
        self._generation += 1
        self.counts.invalidations += len(keys)
        for name in keys:
            if name.startswith(ACCESS_PREFIX):
                tag = name[len(ACCESS_PREFIX) :].rpartition(":")[0]
                key = self._by_tag.get(tag)
                if key is not None:
                    self._forget(key)

    def invalidate_all(self) -> None:
        """Redis was flushed: drop everything."""
        self.counts.redis_flushes += 1
        self._clear()

    def channel_up(self) -> None:
        """A new channel is confirmed: start empty (nothing from before it is trusted)."""
        self._clear()
        self.counts.live = True

    def channel_lost(self) -> None:
        """The channel is down: drop everything; reads go to Redis until it is back."""
        self.counts.lost += 1
        self.counts.live = False
        self._clear()


class CachedGrants:
    """The cache (the GrantReader to hand out), its reader and its channel for one process:
    `run()` is the channel's task."""

    def __init__(self, cache: GrantCache, channel: TrackingChannel) -> None:
        self.cache = cache
        self.channel = channel

    @classmethod
    def over(
        cls,
        client: Any,
        *,
        clock: Clock,
        timeout: float,
        max_entries: int = MAX_ENTRIES,
        probe_interval: float = PROBE_INTERVAL,
        retry_interval: float = RETRY_INTERVAL,
        reader: GrantReader | None = None,
    ) -> CachedGrants:
        """Over a client from `connection.connect` (standalone, Sentinel or Cluster);
        `timeout` bounds each step of the channel's handshake and probes. Misses are read by
        `reader` (default: RedisGrantReader over the same client)."""
        reader = RedisGrantReader(client) if reader is None else reader
        cache = GrantCache(reader, clock=clock, max_entries=max_entries)
        channel = TrackingChannel(
            topology_of(client),
            cache,
            prefix=ACCESS_PREFIX,
            timeout=timeout,
            probe_interval=probe_interval,
            retry_interval=retry_interval,
        )
        cache.follow(channel)
        return cls(cache, channel)

    async def run(self) -> None:
        """Keep the channel up for ever (cancel to stop)."""
        try:
            await self.channel.run()
        finally:
            await self.channel.aclose()
