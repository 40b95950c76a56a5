"""Escalation and break-glass in Redis: opening a break-glass grant, and finding what the
sweeps must look at. The transitions themselves go through the same `Transactions` and
`Writes` as every other one (one MULTI with the audit and outbox entries); a mixin of
RedisWorkflowStore, which supplies the client, the transactions and the writes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from app.adapters.store.keys import (
    BREAK_GLASS_OVERDUE_INDEX,
    BREAK_GLASS_UNREVIEWED_INDEX,
    ESCALATION_INDEX,
    grant_key,
)
from app.adapters.store.records import grant_named_by, text
from app.adapters.store.transactions import Transactions
from app.adapters.store.writes import Writes
from app.core.approvals import Grant, GrantTransition
from app.core.approvals.person import Person, Scope


class EmergencyStore:
    """Implements services.emergency_ports.EmergencyStore over the store's own parts."""

    _client: Any
    _transactions: Transactions
    _writes: Writes

    async def open_break_glass(
        self, *, person: Person, scope: Scope, step: Callable[[Grant | None], GrantTransition]
    ) -> GrantTransition:
        """Store a break-glass grant in the grant slot of (`person`, `scope`): `step` sees the
        grant that slot holds (or None) and returns the new one, or no events to keep it.
        WATCHing the slot makes a concurrent approval and a break-glass use not both win."""
        pair_key = grant_key(person, scope)

        async def body(pipe: Any) -> GrantTransition:
            return step(await grant_named_by(pipe, pair_key))

        return await self._transactions.run([pair_key], body, self._writes.grant)

    async def due_escalations(self, now: datetime, *, limit: int = 500) -> list[str]:
        """PENDING requests whose escalation is due at `now`."""
        return await self._due(ESCALATION_INDEX, now, limit)

    async def due_break_glass_reviews(self, now: datetime, *, limit: int = 500) -> list[str]:
        """Unreviewed break-glass grants past their review deadline, not yet reported."""
        return await self._due(BREAK_GLASS_OVERDUE_INDEX, now, limit)

    async def unreviewed_break_glass(self, *, limit: int = 500) -> list[str]:
        """Break-glass grants awaiting their review, soonest deadline first."""
        rows = await self._client.zrange(BREAK_GLASS_UNREVIEWED_INDEX, 0, limit - 1)
        return [text(r) for r in rows]

    async def break_glass_counts(self, now: datetime) -> tuple[int, int]:
        """(awaiting review, of which past the deadline) at `now`, for /metrics."""
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.zcard(BREAK_GLASS_UNREVIEWED_INDEX)
            pipe.zcount(BREAK_GLASS_UNREVIEWED_INDEX, "-inf", now.timestamp())
            waiting, overdue = await pipe.execute()
        return int(waiting), int(overdue)

    async def forget_due(
        self, *, request_id: str | None = None, grant_id: str | None = None
    ) -> None:
        """Drop the index entries of a record that is gone (past retention, or removed)."""
        if request_id is not None:
            await self._client.zrem(ESCALATION_INDEX, request_id)
        if grant_id is not None:
            await self._client.zrem(BREAK_GLASS_OVERDUE_INDEX, grant_id)
            await self._client.zrem(BREAK_GLASS_UNREVIEWED_INDEX, grant_id)

    async def _due(self, index: str, now: datetime, limit: int) -> list[str]:
        rows = await self._client.zrangebyscore(index, "-inf", now.timestamp(), start=0, num=limit)
        return [text(r) for r in rows]
