"""Ports the services depend on; adapters implement them (Redis, clocks, logs, metrics)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from app.core.approvals.person import Person, Scope
from app.core.decision import Decision, GrantState

Clock = Callable[[], datetime]


class GrantReader(Protocol):
    """The read path of the grant store: what one person has under one policy of one
    application (`scope`), never under another."""

    async def grant_state(self, person: Person, scope: Scope) -> GrantState:
        """Raise on any store failure; the caller fails closed."""
        ...


class DecisionObserver(Protocol):
    """Told of every decision (metrics); must never raise into the decision path."""

    def decided(self, decision: Decision, *, seconds: float) -> None:
        """Record one decision and how long it took."""
        ...

    def store_failed(self) -> None:
        """Record that the grant store could not answer."""
        ...
