"""Stand-ins for the decision memo's tests: the Redis read behind the grant cache and its
tracking channel (the grant cache itself is the real one)."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.approvals.person import Person, Scope
from app.core.decision import NO_GRANTS, Decision, GrantState


@dataclass
class Store:
    """The grant records as Redis holds them: per person, a state for every scope."""

    states: dict[Person, GrantState] = field(default_factory=dict)
    reads: int = 0

    async def grant_state(self, who: Person, scope: Scope) -> GrantState:
        self.reads += 1
        state = self.states.get(who, NO_GRANTS)
        return GrantState(
            grant_expires_at=state.grant_expires_at,
            grant_id=state.grant_id,
            justified_until=state.justified_until,
            pending_request_id=state.pending_request_id,
            policy=scope.policy,
            grant_starts_at=state.grant_starts_at,
        )


@dataclass
class Channel:
    """The tracking channel: live and quiet, or lost."""

    up: bool = True

    def quiet(self) -> bool:
        return self.up


class Observer:
    """Counts decisions told to it."""

    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    def decided(self, decision: Decision, *, seconds: float) -> None:
        self.decisions.append(decision)

    def store_failed(self) -> None:
        pass
