"""A grant satisfies only the policy that issued it, while that policy's approval requirement is
unchanged (docs/adr/0006-grants-bound-to-policy.md): the approval service and the decision
service over one real Redis, with policies the test edits between steps."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from app.adapters.store.keys import legacy_pair_keys
from app.adapters.store.listing import RedisListings
from app.adapters.store.redis_grants import RedisGrantReader
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.core.approvals import ApprovalError, ErrorCode
from app.core.context import AccessContext, Device
from app.core.decision import Decision, Effect
from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.policy_set import PolicySet
from app.services.approvals import ApprovalService
from app.services.decide import DecisionService
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import ALICE, BOB, CAROL, RETENTION, Clock, person

REASON = "INC-42 dashboards are blank"
LENIENT = "Managed devices: one lead approves"
STRICT = "Unmanaged devices: two security approvers"


def grafana(
    *, lead_approvals: int = 1, lead_max: str = "8h", include: str = "{group: engineering}"
) -> PolicySet:
    """Grafana with two approval policies, the lenient one first; parts can be edited."""
    text = f"""
application: {{id: grafana, hosts: [grafana.example.com]}}
policies:
  - name: "{LENIENT}"
    action: allow
    include: [{include}]
    require: [{{device: {{managed: true}}}}]
    justification: {{required: true, prompt: "Ticket?", min_length: 8}}
    approval:
      approvers: [{{group: sre-leads}}, {{group: dba-leads}}]
      approvals_required: {lead_approvals}
      max_duration: {lead_max}
  - name: "{STRICT}"
    action: allow
    include: [{{group: engineering}}]
    justification: {{required: true, prompt: "Ticket?", min_length: 8}}
    approval:
      approvers: [{{group: security}}]
      approvals_required: 2
"""
    wiki = """
application: {id: wiki, hosts: [wiki.example.com]}
policies:
  - name: Say why
    action: allow
    include: [{everyone: true}]
    justification: {required: true, prompt: "Why?", min_length: 8, session_duration: 8h}
"""
    return compile_policy_set([Source("grafana.yaml", text), Source("wiki.yaml", wiki)])


def wiki_with_session(duration: str) -> PolicySet:
    """The policy set with the wiki's justified sessions lasting `duration`."""
    base = grafana()
    edited = compile_policy_set(
        [
            Source(
                "wiki.yaml",
                f"""
application: {{id: wiki, hosts: [wiki.example.com]}}
policies:
  - name: Say why
    action: allow
    include: [{{everyone: true}}]
    justification: {{required: true, prompt: "Why?", min_length: 8, session_duration: {duration}}}
""",
            )
        ]
    )
    return PolicySet.of([base.applications["grafana"], edited.applications["wiki"]])


def on(device_managed: bool, host: str = "grafana.example.com") -> AccessContext:
    """ALICE opening `host` from a managed or a personal device."""
    return AccessContext(host=host, path="/", identity=ALICE, device=Device(managed=device_managed))


class Observer:
    """Decision metrics, ignored."""

    def decided(self, decision: Decision, *, seconds: float) -> None:
        """Nothing to record."""

    def store_failed(self) -> None:
        """Nothing to record."""


@dataclass
class Site:
    """The approval service and forward-auth's decision service over one Redis, judging by
    `policies`, which a test may replace (a reload)."""

    client: Any
    approvals: ApprovalService
    decisions: DecisionService
    clock: Clock
    policies: PolicySet

    async def effect(self, context: AccessContext) -> Effect:
        """What forward-auth decides for `context` now."""
        return (await self.decisions.decide(context)).effect

    async def granted(self, context: AccessContext, approver: Any = BOB) -> str:
        """ALICE asks in `context` and `approver` approves; the grant id."""
        outcome = await self.approvals.request_access(
            person(ALICE),
            application="grafana",
            context=context,
            justification=REASON,
            duration=None,
        )
        assert outcome.request is not None
        approved = await self.approvals.approve(
            person(approver), outcome.request.id, duration=None, comment=None
        )
        assert approved.grant_id is not None
        return approved.grant_id


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def scenario(url: str, body: Callable[[Site], Awaitable[None]]) -> None:
    """Run `body` against an emptied store, with the two-policy Grafana loaded."""

    async def go() -> None:
        client = Redis.from_url(url)
        try:
            await client.flushdb()
            clock = Clock()
            store = RedisWorkflowStore(client, retention=RETENTION)
            site = Site(client, None, None, clock, grafana())  # type: ignore[arg-type]
            site.approvals = ApprovalService(
                policies=lambda: site.policies,
                store=store,
                listings=RedisListings(client),
                clock=clock,
            )
            site.decisions = DecisionService(
                policies=lambda: site.policies,
                grants=RedisGrantReader(client),
                clock=clock,
                observer=Observer(),
                store_timeout=2.0,
            )
            await body(site)
        finally:
            await client.aclose()

    asyncio.run(go())


def test_a_lenient_grant_does_not_open_the_strict_policy(server: RedisServer) -> None:
    """ALICE's grant from the managed-device policy lets her in from that device only; from a
    personal device the two-approver policy still needs its own approval."""

    async def body(site: Site) -> None:
        await site.granted(on(device_managed=True))
        assert await site.effect(on(device_managed=True)) is Effect.ALLOW
        assert await site.effect(on(device_managed=False)) is Effect.NEEDS_APPROVAL

    scenario(server.url, body)


def test_the_strict_policy_gets_its_own_request_while_the_lenient_grant_lives(
    server: RedisServer,
) -> None:
    """Asking from the personal device opens a request under the strict policy, not the grant."""

    async def body(site: Site) -> None:
        grant_id = await site.granted(on(device_managed=True))
        outcome = await site.approvals.request_access(
            person(ALICE),
            application="grafana",
            context=on(device_managed=False),
            justification=REASON,
            duration=None,
        )
        assert outcome.created is True
        assert outcome.request is not None
        assert outcome.request.policy == STRICT
        assert outcome.grant is None or outcome.grant.id != grant_id
        assert await site.effect(on(device_managed=False)) is Effect.PENDING

    scenario(server.url, body)


@pytest.mark.parametrize(
    "edit", [{"lead_approvals": 2}, {"lead_max": "4h"}], ids=["approvals_required", "max_duration"]
)
def test_editing_the_approval_block_ends_live_grants(
    server: RedisServer, edit: dict[str, Any]
) -> None:
    """After an edit to the approval requirement ALICE's grant no longer counts: she asks again."""

    async def body(site: Site) -> None:
        await site.granted(on(device_managed=True))
        site.policies = grafana(**edit)
        assert await site.effect(on(device_managed=True)) is Effect.NEEDS_APPROVAL
        outcome = await site.approvals.request_access(
            person(ALICE),
            application="grafana",
            context=on(device_managed=True),
            justification=REASON,
            duration=None,
        )
        assert outcome.created is True
        assert outcome.request is not None

    scenario(server.url, body)


def test_edits_outside_the_approval_block_keep_live_grants(server: RedisServer) -> None:
    """Widening `include` (and touching nothing of the approval) leaves ALICE's grant counting."""

    async def body(site: Site) -> None:
        await site.granted(on(device_managed=True))
        site.policies = grafana(include="{group: engineering}, {group: sre}")
        assert await site.effect(on(device_managed=True)) is Effect.ALLOW

    scenario(server.url, body)


def test_a_pending_request_cannot_be_approved_after_its_requirement_changed(
    server: RedisServer,
) -> None:
    """A request made before the edit is refused with policy-mismatch, and leaves the inbox."""

    async def body(site: Site) -> None:
        outcome = await site.approvals.request_access(
            person(ALICE),
            application="grafana",
            context=on(device_managed=True),
            justification=REASON,
            duration=None,
        )
        assert outcome.request is not None
        site.policies = grafana(lead_approvals=2)
        inbox = await site.approvals.list_requests(person(BOB), to_review=True)
        with pytest.raises(ApprovalError) as refused:
            await site.approvals.approve(
                person(BOB), outcome.request.id, duration=None, comment=None
            )
        assert refused.value.code is ErrorCode.POLICY_MISMATCH
        assert inbox.items == ()
        assert await site.effect(on(device_managed=True)) is Effect.NEEDS_APPROVAL

    scenario(server.url, body)


def test_revoking_a_grant_of_an_edited_policy_still_ends_it(server: RedisServer) -> None:
    """A grant stays revocable after its policy changed, and the revert does not revive it."""

    async def body(site: Site) -> None:
        grant_id = await site.granted(on(device_managed=True), approver=CAROL)
        site.policies = grafana(lead_approvals=2)
        await site.approvals.revoke(person(BOB), grant_id, reason="policy tightened")
        site.policies = grafana()
        assert await site.effect(on(device_managed=True)) is Effect.NEEDS_APPROVAL

    scenario(server.url, body)


def test_a_justified_session_ends_when_its_justification_rules_change(
    server: RedisServer,
) -> None:
    """ALICE's wiki session counts until the wiki's justification block is edited."""

    async def body(site: Site) -> None:
        wiki = on(device_managed=False, host="wiki.example.com")
        await site.approvals.request_access(
            person(ALICE), application="wiki", context=wiki, justification=REASON, duration=None
        )
        assert await site.effect(wiki) is Effect.ALLOW
        site.policies = wiki_with_session("1h")
        assert await site.effect(wiki) is Effect.NEEDS_JUSTIFICATION

    scenario(server.url, body)


def test_old_approval_keys_are_not_read_after_an_upgrade(server: RedisServer) -> None:
    """A grant key in the earlier per-user layout lets nobody in (fail closed)."""

    async def body(site: Site) -> None:
        old = legacy_pair_keys("alice@example.com", "grafana")[0]
        until = (site.clock() + timedelta(hours=1)).timestamp()
        await site.client.set(old, f'{{"id": "grt_old", "expires_at": {until}}}')
        assert await site.effect(on(device_managed=True)) is Effect.NEEDS_APPROVAL

    scenario(server.url, body)


def test_fingerprints_differ_between_the_two_policies() -> None:
    """The two Grafana policies, and Grafana before and after an approval edit, differ."""
    lenient, strict = grafana().applications["grafana"].policies
    edited = grafana(lead_approvals=2).applications["grafana"].policies[0]
    assert len({lenient.fingerprint, strict.fingerprint, edited.fingerprint}) == 3
