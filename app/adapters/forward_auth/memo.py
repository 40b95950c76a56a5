"""Decide once, answer from memory: the decision of a check whose outcome depends only on who
asks and which application, kept per (identity, application) and reused by the next checks.

Only the decision is kept; everything else the answer and the log line depend on (the trusted
peer, the original request, the identity with its token's expiry and session, the signals, the
flavour, browser or API client, the assertion) is still read per request by the same code as
before, so a remembered decision answers exactly what a fresh one would. What may be kept is
decided by the pure core (core.policy.memoisable); how long, here:

- the policy set is the one it was decided under (a reload forgets everything);
- the identity is the very object the token cache handed out for it (a new token, an expired
  one, an ended session: another identity or none, so another entry);
- the grant state it was decided under is still the grant cache's exact answer, the same
  object (an invalidation for that person and application, a lost invalidation channel: the
  grant cache forgets or stops answering, and the entry is dropped);
- not past any instant of that grant state still ahead, nor past `max_age`.

Why this is exact, and what it costs: docs/adr/0012-decision-memo.md.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from time import perf_counter

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from app.core.approvals.person import Person, Scope
from app.core.context import AccessContext, Identity
from app.core.decision import Decision, GrantState
from app.core.policy.evaluate import decide, select
from app.core.policy.memoisable import grant_instants, settled
from app.core.policy.model import Application
from app.core.policy.policy_set import PolicySet
from app.core.reasons import Reason
from app.services.ports import Clock, DecisionObserver, GrantMemory

#: Decisions that say "could not decide": never remembered, always asked again.
UNDECIDED = frozenset({Reason.GRANT_STATE_UNAVAILABLE, Reason.INTERNAL_ERROR})
#: Entries kept by default (a few hundred bytes each); 0 turns the memo off.
DEFAULT_SIZE = 10_000
#: No decision is reused for longer than this by default, whatever else holds.
DEFAULT_MAX_AGE = timedelta(seconds=10)

Key = tuple[int, int]


class MemoCounts:
    """What /metrics reports (plain integers: a Prometheus counter costs more per hit)."""

    __slots__ = ("entries", "flushes", "hits", "misses")

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        #: whole-memo flushes: a policy reload
        self.flushes = 0
        self.entries = 0


@dataclass(frozen=True, slots=True)
class _Entry:
    """One remembered decision and what it was decided under. The entry holds the identity
    and the application themselves, so the ids in its key cannot be reused while it lives."""

    identity: Identity | None
    application: Application | None
    #: None: this identity's decisions at this application read more than the identity (the
    #: walk met another rule), so they are made every time without asking again why.
    decision: Decision | None
    until: float
    #: (person, scope, the grant cache's answer) when the decision read a grant state.
    grant: tuple[Person, Scope, GrantState] | None


class DecisionMemo:
    """One per process, shared by every transport's Checker; no I/O and no await."""

    def __init__(
        self,
        *,
        policies: Callable[[], PolicySet],
        memory: GrantMemory | None,
        clock: Clock,
        observer: DecisionObserver,
        size: int = DEFAULT_SIZE,
        max_age: timedelta = DEFAULT_MAX_AGE,
    ) -> None:
        self._policies = policies
        self._memory = memory
        self._clock = clock
        self._observer = observer
        self._size = size
        self._max_age = max_age
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._policy_set: PolicySet | None = None
        #: The context of the last recall that found "decided every time": its remember has
        #: nothing to keep, and need not look again (checks of one loop may interleave; then
        #: remember looks, as for any other context).
        self._every_time: AccessContext | None = None
        self.counts = MemoCounts()

    def recall(self, context: AccessContext) -> Decision | None:
        """The remembered decision for `context` if it still holds, else None (decide)."""
        started = perf_counter()
        policies = self._current()
        identity = context.identity
        app = policies.resolve(context.host, context.path)
        key = (id(identity), id(app))
        entry = self._entries.get(key)
        if entry is None or entry.identity is not identity or entry.application is not app:
            self.counts.misses += 1
            return None
        if not self._holds(entry):
            self._drop(key)
            self.counts.misses += 1
            return None
        self._entries.move_to_end(key)
        decision = entry.decision
        if decision is None:
            self._every_time = context
            self.counts.misses += 1
            return None
        self.counts.hits += 1
        self._observer.decided(decision, seconds=perf_counter() - started)
        return decision

    def remember(self, context: AccessContext, decision: Decision) -> None:
        """Keep `decision`, just made for `context`, if the policy lets its outcome depend on
        the identity and the application alone and it is what the state known exact now
        gives; otherwise keep nothing."""
        if self._every_time is context:
            self._every_time = None
            return
        if self._size <= 0 or decision.explain or UNDECIDED.intersection(decision.reasons):
            return
        policies = self._current()
        identity = context.identity
        key = (id(identity), id(policies.resolve(context.host, context.path)))
        known = self._entries.get(key)
        if known is not None and known.decision is None and self._holds(known):
            return  # already known to be decided every time
        now = self._clock()
        until = (now + self._max_age).timestamp()
        selection = select(policies, context, now=now)
        app, policy = selection.application, selection.policy
        if app is not None and settled(app, identity) != (True, policy):
            self._keep(key, _Entry(identity, app, None, until, None))
            return
        grant: tuple[Person, Scope, GrantState] | None = None
        state: GrantState | None = None
        if selection.needs_grant_state:
            if self._memory is None or identity is None or app is None or policy is None:
                return
            person, scope = Person.of(identity), Scope.of(app.id, policy)
            state = self._memory.cached(person, scope)
            if state is None:  # not known exact without I/O: nothing to stand on
                return
            grant = (person, scope, state)
            for instant in grant_instants(state):
                if now < instant:
                    until = min(until, instant.timestamp())
        # Kept only if the state known exact now gives the decision that was served.
        if decide(selection, context, grants=state, now=now) != decision:
            return
        self._keep(key, _Entry(identity, app, decision, until, grant))

    @property
    def size(self) -> int:
        """How many decisions are kept."""
        return len(self._entries)

    def _current(self) -> PolicySet:
        """The policy set in force; a new one (a reload) forgets every decision."""
        policies = self._policies()
        if policies is not self._policy_set:
            if self._entries:
                self._entries.clear()
                self.counts.flushes += 1
                self.counts.entries = 0
            self._policy_set = policies
        return policies

    def _holds(self, entry: _Entry) -> bool:
        if self._clock().timestamp() >= entry.until:
            return False
        grant = entry.grant
        if grant is None:
            return True
        memory = self._memory
        person, scope, state = grant
        # The grant cache's own exactness: it answers only while its channel is quiet, and
        # forgets an answer when Redis reports a change or the channel is lost.
        return memory is not None and memory.cached(person, scope) is state

    def _keep(self, key: Key, entry: _Entry) -> None:
        entries = self._entries
        entries[key] = entry
        entries.move_to_end(key)
        while len(entries) > self._size:
            entries.popitem(last=False)
        self.counts.entries = len(entries)

    def _drop(self, key: Key) -> None:
        self._entries.pop(key, None)
        self.counts.entries = len(self._entries)


class MemoCollector:
    """The memo's series on /metrics, built from its plain counters at scrape time."""

    def __init__(self, counts: MemoCounts) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        """countersign_decision_memo_{hits,misses,flushes}_total and _entries."""
        counts = self._counts
        prefix = "countersign_decision_memo"
        yield CounterMetricFamily(
            f"{prefix}_hits", "Checks answered with a remembered decision", value=counts.hits
        )
        yield CounterMetricFamily(
            f"{prefix}_misses", "Checks that had to decide", value=counts.misses
        )
        yield CounterMetricFamily(
            f"{prefix}_flushes", "Whole-memo flushes (policy reloads)", value=counts.flushes
        )
        yield GaugeMetricFamily(f"{prefix}_entries", "Decisions kept", value=counts.entries)
