"""Decide one request: route, ask the grant store only if the matching policy needs it, decide.

Any failure is a deny with `internal-error` (or `grant-state-unavailable` when only the store
failed): no error path becomes an allow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import perf_counter

from app.core.approvals.person import Person, Scope
from app.core.context import AccessContext
from app.core.decision import Decision, GrantState, internal_error
from app.core.policy.evaluate import decide, select
from app.core.policy.policy_set import PolicySet
from app.services.ports import Clock, DecisionObserver, GrantMemory, GrantReader


class DecisionService:
    """Holds no state of its own: the policy set comes from `policies()` on every call."""

    def __init__(
        self,
        *,
        policies: Callable[[], PolicySet],
        grants: GrantReader,
        clock: Clock,
        observer: DecisionObserver,
        store_timeout: float,
        memory: GrantMemory | None = None,
    ) -> None:
        self._policies = policies
        self._grants = grants
        self._clock = clock
        self._observer = observer
        self._store_timeout = store_timeout
        #: Answers known exact without I/O: no store timeout is armed for them.
        self._memory = memory

    async def decide(self, context: AccessContext) -> Decision:
        """The decision for `context`; never raises."""
        started = perf_counter()
        try:
            decision = await self._decide(context)
        except Exception:  # fail closed: any error is a deny
            decision = internal_error()
        self._observer.decided(decision, seconds=perf_counter() - started)
        return decision

    async def _decide(self, context: AccessContext) -> Decision:
        now = self._clock()
        selection = select(self._policies(), context, now=now)
        grants: GrantState | None = None
        identity, app, policy = context.identity, selection.application, selection.policy
        if selection.needs_grant_state and identity is not None and app and policy:
            # Only what this person holds under the policy that matched, as it stands now.
            grants = await self._grant_state(Person.of(identity), Scope.of(app.id, policy))
        return decide(selection, context, grants=grants, now=now)

    async def _grant_state(self, person: Person, scope: Scope) -> GrantState | None:
        if self._memory is not None:
            known = self._memory.cached(person, scope)
            if known is not None:
                return known
        try:
            async with asyncio.timeout(self._store_timeout):
                return await self._grants.grant_state(person, scope)
        except Exception:  # an unreachable store: "cannot decide"
            self._observer.store_failed()
            return None
