"""The decision service: the store is asked only when needed, and every failure is a deny."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from app.core.approvals import Person, Scope
from app.core.context import AccessContext, Device, Identity
from app.core.decision import Decision, Effect, GrantState
from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.policy_set import PolicySet
from app.core.reasons import Reason
from app.services.decide import DecisionService

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ALICE = Identity("alice", "alice@example.com", frozenset({"engineers"}))
POLICIES = compile_policy_set(
    [
        Source(
            "app.yaml",
            """
application: {id: grafana, hosts: [grafana.example.com]}
policies:
  - name: engineers with approval
    action: allow
    include: [{group: engineers}]
    approval: {approvers: [{group: sre-leads}]}
""",
        )
    ]
)
CONTEXT = AccessContext("grafana.example.com", "/", identity=ALICE)


class Observer:
    def __init__(self) -> None:
        self.decisions: list[Decision] = []
        self.store_failures = 0

    def decided(self, decision: Decision, *, seconds: float) -> None:
        self.decisions.append(decision)

    def store_failed(self) -> None:
        self.store_failures += 1


class SlowGrants:
    async def grant_state(self, person: Person, scope: Scope) -> GrantState:
        await asyncio.sleep(5)
        return GrantState(grant_expires_at=NOW + timedelta(hours=1))


class Grants:
    def __init__(self, state: GrantState) -> None:
        self.state = state
        self.asked: list[tuple[Person, Scope]] = []

    async def grant_state(self, person: Person, scope: Scope) -> GrantState:
        self.asked.append((person, scope))
        return self.state


class GrantsByScope:
    """A grant store fake holding states per (person, scope), as Redis keys them."""

    def __init__(self, states: dict[tuple[Person, Scope], GrantState]) -> None:
        self.states = states

    async def grant_state(self, person: Person, scope: Scope) -> GrantState:
        return self.states.get((person, scope), GrantState(policy=scope.policy))


def service(
    grants: object, policies: object = None, observer: Observer | None = None
) -> DecisionService:
    return DecisionService(
        policies=policies or (lambda: POLICIES),  # type: ignore[arg-type]
        grants=grants,  # type: ignore[arg-type]
        clock=lambda: NOW,
        observer=observer or Observer(),
        store_timeout=0.05,
    )


def test_active_grant_allows_and_the_store_is_asked_for_the_person_and_policy() -> None:
    """The store is asked for (issuer, subject) and the matching policy's scope; a grant allows."""
    grants = Grants(GrantState(grant_expires_at=NOW + timedelta(minutes=1), grant_id="g"))
    decision = asyncio.run(service(grants).decide(CONTEXT))
    policy = POLICIES.applications["grafana"].policies[0]
    assert decision.effect is Effect.ALLOW
    assert grants.asked == [(Person("", "alice"), Scope("grafana", policy.fingerprint))]


TWO_TIERS = compile_policy_set(
    [
        Source(
            "app.yaml",
            """
application: {id: grafana, hosts: [grafana.example.com]}
policies:
  - name: managed devices, one lead approves
    action: allow
    include: [{group: engineers}]
    require: [{device: {managed: true}}]
    approval: {approvers: [{group: sre-leads}]}
  - name: unmanaged devices, two security approvers
    action: allow
    include: [{group: engineers}]
    approval: {approvers: [{group: security}], approvals_required: 2}
""",
        )
    ]
)


def test_a_grant_under_the_lenient_policy_does_not_open_the_strict_one() -> None:
    """ALICE's grant from the managed-device policy is not read from her unmanaged device."""
    lenient, _strict = TWO_TIERS.applications["grafana"].policies
    managed = AccessContext("grafana.example.com", "/", identity=ALICE, device=Device(managed=True))
    grant = GrantState(
        grant_expires_at=NOW + timedelta(hours=1), grant_id="g", policy=lenient.fingerprint
    )
    store = GrantsByScope({(Person.of(ALICE), Scope.of("grafana", lenient)): grant})
    on_managed = asyncio.run(service(store, lambda: TWO_TIERS).decide(managed))
    on_personal = asyncio.run(service(store, lambda: TWO_TIERS).decide(CONTEXT))
    assert on_managed.effect is Effect.ALLOW
    assert on_personal.effect is Effect.NEEDS_APPROVAL
    assert on_personal.policy == "unmanaged devices, two security approvers"


def test_a_state_read_for_another_policy_counts_as_nothing() -> None:
    """A store answer naming another policy's fingerprint never allows (fail closed)."""
    lenient, _strict = TWO_TIERS.applications["grafana"].policies
    stray = GrantState(
        grant_expires_at=NOW + timedelta(hours=1), grant_id="g", policy=lenient.fingerprint
    )
    decision = asyncio.run(service(Grants(stray), lambda: TWO_TIERS).decide(CONTEXT))
    assert decision.effect is Effect.NEEDS_APPROVAL
    assert Reason.GRANT_MISSING in decision.reasons


def test_slow_store_times_out_into_a_deny_not_an_allow() -> None:
    """A store slower than the timeout is 'cannot decide', counted as a store failure."""
    observer = Observer()
    decision = asyncio.run(service(SlowGrants(), observer=observer).decide(CONTEXT))
    assert decision.effect is Effect.DENY
    assert decision.reasons == (Reason.GRANT_STATE_UNAVAILABLE,)
    assert observer.store_failures == 1


def test_a_crash_while_deciding_is_an_internal_error_deny() -> None:
    """If the policy set cannot even be read, the answer is deny with internal-error."""

    def broken() -> PolicySet:
        raise RuntimeError("no policy set loaded")

    observer = Observer()
    decision = asyncio.run(service(Grants(GrantState()), broken, observer).decide(CONTEXT))
    assert decision.effect is Effect.DENY
    assert decision.reasons == (Reason.INTERNAL_ERROR,)
    assert observer.decisions == [decision]


def test_anonymous_user_never_costs_a_store_call() -> None:
    """Without an identity there is nothing to look up: unauthenticated, no Redis call."""
    grants = Grants(GrantState())
    anonymous = AccessContext("grafana.example.com", "/")
    decision = asyncio.run(service(grants).decide(anonymous))
    assert decision.effect is Effect.UNAUTHENTICATED
    assert grants.asked == []


class Memory:
    """Answers known exact without I/O, or None: what the grant cache offers."""

    def __init__(self, state: GrantState | None) -> None:
        self.state = state
        self.asked = 0

    def cached(self, person: Person, scope: Scope) -> GrantState | None:
        self.asked += 1
        return self.state


def _with_memory(grants: object, memory: Memory) -> DecisionService:
    return DecisionService(
        policies=lambda: POLICIES,
        grants=grants,  # type: ignore[arg-type]
        clock=lambda: NOW,
        observer=Observer(),
        store_timeout=0.05,
        memory=memory,
    )


def test_an_answer_known_from_memory_costs_no_store_call() -> None:
    """A remembered grant decides without asking the store (a slow store would time out)."""
    memory = Memory(GrantState(grant_expires_at=NOW + timedelta(minutes=1), grant_id="g"))
    decision = asyncio.run(_with_memory(SlowGrants(), memory).decide(CONTEXT))
    assert decision.effect is Effect.ALLOW
    assert memory.asked == 1


def test_nothing_in_memory_asks_the_store() -> None:
    """When memory does not know, the store answers, and its answer decides."""
    grants = Grants(GrantState())
    decision = asyncio.run(_with_memory(grants, Memory(None)).decide(CONTEXT))
    assert decision.effect is Effect.NEEDS_APPROVAL
    assert len(grants.asked) == 1
