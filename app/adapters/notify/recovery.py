"""The notifiers' consumer group on the outbox, kept alive: where a new or lost group starts,
the position the group had reached (kept by each replica in memory and by all of them in a
`{cs}` key, because a lost stream takes the group's own position with it), and the report of
outbox entries that went unread (a gap). docs/adr/0005-notification-outbox.md, "Recovery".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import structlog
from redis.exceptions import ResponseError

from app.adapters.notify.keys import CURSOR_KEY, GROUP
from app.adapters.store.keys import OUTBOX_KEY

log = structlog.get_logger("countersign.notify")

#: Where a group starts that reads a stream from its beginning.
ORIGIN = "0-0"

# Move the shared position forward only (replicas report their batches in any order).
# KEYS: cursor  ARGV: entry id  -> 1 if it moved
_ADVANCE = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local cm, cs = string.match(cur, '^(%d+)-(%d+)$')
  local nm, ns = string.match(ARGV[1], '^(%d+)-(%d+)$')
  cm, cs, nm, ns = tonumber(cm), tonumber(cs), tonumber(nm), tonumber(ns)
  if cm and (cm > nm or (cm == nm and cs >= ns)) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


class OutboxState(StrEnum):
    """The group as /readyz shows it: fine, missing (being recreated), or recreated after
    entries went unread (stays so for the life of the process; the metric counts each)."""

    OK = "ok"
    RECOVERING = "recovering"
    GAP = "gap"


class OutboxObserver(Protocol):
    """Told of the group's state, of each recreation and of each gap (the metrics)."""

    def outbox_state(self, state: str) -> None: ...

    def outbox_rejoined(self) -> None: ...

    def outbox_gap(self) -> None: ...


def stream_id(raw: str) -> tuple[int, int]:
    """A stream entry id as (milliseconds, sequence), for comparing."""
    ms, _, seq = raw.partition("-")
    return int(ms), int(seq or 0)


def after(one: str, other: str) -> bool:
    """Whether stream id `one` comes after `other`."""
    return stream_id(one) > stream_id(other)


def lost_group(error: BaseException) -> bool:
    """Whether an error says the outbox stream or its group is gone."""
    return isinstance(error, ResponseError) and str(error).startswith("NOGROUP")


@dataclass(frozen=True, slots=True)
class OutboxView:
    """What the outbox stream holds now: whether it exists, its oldest entry (None: empty) and
    the last id it ever generated."""

    exists: bool
    first: str | None = None
    last: str | None = None


@dataclass(frozen=True, slots=True)
class Gap:
    """Entries gone before the group read them: those after `last_delivered` and before
    `first_present`, or up to `last_written` when the stream is empty now."""

    last_delivered: str
    first_present: str | None
    last_written: str | None

    def to_dict(self) -> dict[str, str | None]:
        """JSON-ready form (logs, /readyz)."""
        return {
            "last_delivered": self.last_delivered,
            "first_present": self.first_present,
            "last_written": self.last_written,
        }


@dataclass(frozen=True, slots=True)
class Rejoin:
    """Where to create the group, the gap to report, and whether the known position belongs to
    another stream (then it is forgotten)."""

    start: str
    gap: Gap | None = None
    forget: bool = False


def plan_rejoin(view: OutboxView, known: str | None, *, fresh: str) -> Rejoin:
    """Where the group starts, from the stream as it is and the last id the group is known to
    have handed out (`fresh`: the start of a group with no known position).

    - No stream: at the origin; whatever a stream created from now on holds is new.
    - No known position (a first start, or Redis and every replica lost it): at `fresh`, so
      entries written shortly before are sent but an old outbox is not replayed.
    - The stream's ids are behind the known position: it is another stream (recreated, or an
      older copy restored) and any entry in it may be unsent: at the origin.
    - Otherwise at the known position: nothing handed out is sent twice and everything written
      since is read, whether or not the group existed then. Entries between that position and
      the stream's first entry (its last id when empty) are gone unread: a gap.
    """
    if not view.exists or view.last is None:
        return Rejoin(ORIGIN, forget=known is not None)
    if known is None:
        return Rejoin(fresh if view.first is not None else ORIGIN)
    if after(known, view.last):
        return Rejoin(ORIGIN, forget=True)
    if view.first is not None and after(view.first, known):
        return Rejoin(known, Gap(known, view.first, view.last))
    if view.first is None and after(view.last, known):
        return Rejoin(known, Gap(known, None, view.last))
    return Rejoin(known)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class OutboxGroup:
    """Creates the group where it should start, recreates it when it is gone, tracks how far
    it has read, and reports its state."""

    def __init__(
        self,
        client: Any,
        *,
        fresh_window: timedelta,
        clock: Callable[[], datetime],
        observer: OutboxObserver | None = None,
    ) -> None:
        self._client = client
        self._advance = client.register_script(_ADVANCE)
        self._window_ms = int(fresh_window.total_seconds() * 1000)
        self._clock = clock
        self._observer = observer
        self._lock = asyncio.Lock()
        #: The last entry id this process read through the group (survives Redis losing all).
        self.last_read: str | None = None
        self.state = OutboxState.OK
        self.recoveries = 0
        self.gaps = 0
        self.last_gap: dict[str, Any] | None = None
        self._published = False

    async def advance(self, entry_id: str) -> None:
        """Record that the group handed out everything up to `entry_id`."""
        if self.last_read is None or after(entry_id, self.last_read):
            self.last_read = entry_id
        await self._advance(keys=[CURSOR_KEY], args=[entry_id])

    def lost(self) -> None:
        """The stream or the group is gone (NOGROUP): recovering until `join` succeeds."""
        self._set_state(OutboxState.RECOVERING)

    async def join(self) -> None:
        """Create the group where `plan_rejoin` says, unless it exists. Only the replica whose
        creation succeeds reports the recreation and the gap: once per loss, not per replica."""
        async with self._lock:
            known = await self._known()
            view = await self._inspect()
            plan = plan_rejoin(view, known, fresh=await self._fresh_start())
            if plan.forget:
                self.last_read = None
                await self._client.delete(CURSOR_KEY)
            if await self._create(plan.start):
                self._report(plan, known)
            self._set_state(OutboxState.GAP if self.gaps else OutboxState.OK)

    def status(self) -> dict[str, Any]:
        """The detail /readyz shows."""
        return {
            "state": self.state.value,
            "last_read": self.last_read,
            "recoveries": self.recoveries,
            "gaps": self.gaps,
            "last_gap": self.last_gap,
        }

    # -- steps -----------------------------------------------------------------------------
    async def _known(self) -> str | None:
        raw = await self._client.get(CURSOR_KEY)
        candidates = [c for c in (self.last_read, _text(raw) if raw else None) if c]
        return max(candidates, key=stream_id) if candidates else None

    async def _inspect(self) -> OutboxView:
        try:
            info = await self._client.xinfo_stream(OUTBOX_KEY)
        except ResponseError as error:
            if "no such key" in str(error).lower():
                return OutboxView(exists=False)
            raise
        first = info.get("first-entry")
        return OutboxView(
            exists=True,
            first=_text(first[0]) if first else None,
            last=_text(info["last-generated-id"]),
        )

    async def _fresh_start(self) -> str:
        """`fresh_window` before now by the server's clock (stream ids are its milliseconds)."""
        seconds, micros = await self._client.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        return f"{max(now_ms - self._window_ms, 0)}-0"

    async def _create(self, start: str) -> bool:
        """Create the group at `start`; False when another replica (or an earlier start) did."""
        try:
            await self._client.xgroup_create(OUTBOX_KEY, GROUP, id=start, mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
            return False
        return True

    def _report(self, plan: Rejoin, known: str | None) -> None:
        if known is None:  # nothing was ever read here: a first start, not a loss
            log.info("outbox_group_created", start=plan.start)
            return
        self.recoveries += 1
        if self._observer is not None:
            self._observer.outbox_rejoined()
        log.warning("outbox_group_recreated", start=plan.start, last_delivered=known)
        if plan.gap is None:
            return
        self.gaps += 1
        self.last_gap = {**plan.gap.to_dict(), "at": self._clock().isoformat()}
        if self._observer is not None:
            self._observer.outbox_gap()
        log.warning("outbox_gap", **plan.gap.to_dict())

    def _set_state(self, state: OutboxState) -> None:
        if state is self.state and self._published:
            return
        self.state = state
        self._published = True
        if self._observer is not None:
            self._observer.outbox_state(state.value)
