"""What the escalation and break-glass service needs from storage, beyond the WorkflowStore:
opening a break-glass grant and finding what its sweeps must look at (implemented by
adapters.store.emergency_store, part of the Redis workflow store)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from app.core.approvals import Grant, GrantTransition
from app.core.approvals.person import Person, Scope
from app.services.ports import WorkflowStore


class EmergencyStore(WorkflowStore, Protocol):
    """A WorkflowStore that also keeps the escalation and break-glass indexes."""

    async def open_break_glass(
        self, *, person: Person, scope: Scope, step: Callable[[Grant | None], GrantTransition]
    ) -> GrantTransition:
        """Store a break-glass grant in the grant slot (or keep the grant it holds)."""
        ...

    async def due_escalations(self, now: datetime, *, limit: int = 500) -> list[str]:
        """Ids of PENDING requests whose escalation is due at `now`."""
        ...

    async def due_break_glass_reviews(self, now: datetime, *, limit: int = 500) -> list[str]:
        """Ids of unreviewed break-glass grants past their deadline, not yet reported."""
        ...

    async def unreviewed_break_glass(self, *, limit: int = 500) -> list[str]:
        """Ids of break-glass grants awaiting review, soonest deadline first."""
        ...

    async def break_glass_counts(self, now: datetime) -> tuple[int, int]:
        """(awaiting review, of which overdue) at `now`."""
        ...

    async def forget_due(
        self, *, request_id: str | None = None, grant_id: str | None = None
    ) -> None:
        """Drop the sweep index entries of a record that is gone."""
        ...
