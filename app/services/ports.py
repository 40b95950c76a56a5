"""Ports the services and the inbound adapters depend on; adapters implement them (Redis,
clocks, logs, metrics, token checks, proxy signals)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

from app.core.approvals.person import Person, Scope
from app.core.context import Identity, Signals
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


class Identify(Protocol):
    """Who is asking: a verified identity, or None and a short reason code."""

    async def __call__(self, headers: Mapping[str, str]) -> tuple[Identity | None, str | None]:
        """Never raises for a bad token; returns (None, code)."""
        ...


class ReadSignals(Protocol):
    """Client IP, country and device from trusted metadata; raises BadProxyRequestError
    (or ForwardedHeaderError) for metadata it cannot read, which callers answer as a bad
    request, never as an allow."""

    def __call__(self, peer: str, headers: Mapping[str, str], identity: Identity | None) -> Signals:
        """Signals for one request."""
        ...
