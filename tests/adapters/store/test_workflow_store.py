"""The workflow store against a real Redis: each transition writes the record, the pair keys, the
indexes, the audit entries and the outbox entries in one step, or nothing at all."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
import redis

from app.adapters.store import audit
from app.adapters.store.keys import (
    ACTIVE_GRANTS_INDEX,
    OUTBOX_KEY,
    PENDING_INDEX,
    REQUESTS_INDEX,
    grant_key,
    grant_record_key,
    legacy_pair_keys,
    open_request_key,
    person_requests_index,
    request_key,
)
from app.adapters.store.redis_workflow import NotFoundError
from app.core import approvals as core
from app.core.approvals import (
    AccessRequest,
    ApprovalError,
    ErrorCode,
    EventType,
    Grant,
    GrantStatus,
    Person,
    RequestStatus,
    RequestTransition,
    ReviewDecision,
    Scope,
)
from app.core.policy.model import Policy
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import (
    ALICE,
    BOB,
    GRAFANA_REASON,
    RETENTION,
    World,
    at_desk,
    audit_events,
    audit_length,
    shipped_policies,
    snapshot,
    world,
)

T = TypeVar("T")


def grafana_second_opinion() -> Policy:
    """Grafana's shipped policy for engineers: one SRE lead approves, 1 hour by default."""
    found = (
        shipped_policies()
        .applications["grafana"]
        .policy_named("Engineers, second opinion required")
    )
    if found is None:
        raise LookupError("policy_rules/apps/grafana.yaml lost its second-opinion policy")
    return found


POLICY = grafana_second_opinion()
PERSON = Person.of(ALICE)
SCOPE = Scope.of("grafana", POLICY)


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def scenario(url: str, body: Callable[[World], Awaitable[T]]) -> T:
    """Run `body` against an emptied store."""

    async def go() -> T:
        async with world(url) as w:
            return await body(w)

    return asyncio.run(go())


def submitting(w: World, request_id: str = "req_1") -> Callable[[Any, Any], RequestTransition]:
    """A step that opens ALICE's Grafana request, or returns the open one (whatever grant she
    holds: refusing overlaps is the service's rule, tested there)."""

    def step(existing: AccessRequest | None, _active: Grant | None) -> RequestTransition:
        reused = core.reuse_open(existing, w.clock())
        if reused is not None:
            return RequestTransition(reused, ())
        return core.submit(
            request_id=request_id,
            application="grafana",
            policy=POLICY,
            requester=core.Requester.from_context(at_desk(ALICE, "grafana")),
            justification=GRAFANA_REASON,
            requested_duration=None,
            now=w.clock(),
        )

    return step


async def open_one(w: World, request_id: str = "req_1") -> AccessRequest:
    """ALICE's Grafana request, stored."""
    done = await w.store.open_request(person=PERSON, scope=SCOPE, step=submitting(w, request_id))
    assert isinstance(done, RequestTransition)
    return done.request


def approving(w: World, grant_id: str = "grt_1") -> Callable[[AccessRequest], RequestTransition]:
    """A step in which BOB approves with the policy's default duration."""
    return lambda current: core.review(
        current,
        reviewer=BOB,
        decision=ReviewDecision.APPROVE,
        policy=POLICY,
        now=w.clock(),
        grant_id=grant_id,
    )


def test_submit_writes_record_open_key_indexes_audit_and_outbox(server: RedisServer) -> None:
    """One submit stores the request, its open key, three index entries, and the same events in
    the audit log and the outbox."""

    async def body(w: World) -> None:
        request = await open_one(w)
        stored = json.loads(await w.client.get(request_key(request.id)))
        assert stored == request.to_dict()
        assert (await w.client.get(open_request_key(PERSON, SCOPE))).decode() == request.id
        assert await w.client.zscore(PENDING_INDEX, request.id) == request.expires_at.timestamp()
        assert await w.client.zscore(REQUESTS_INDEX, request.id) == request.created_at.timestamp()
        assert await w.client.zscore(person_requests_index(PERSON), request.id) is not None
        types = [e["type"] for e in await audit_events(w.client)]
        assert types == ["request_submitted", "justification_recorded"]
        assert await w.client.xlen(OUTBOX_KEY) == 2

    scenario(server.url, body)


def test_open_key_lives_until_the_request_is_due(server: RedisServer) -> None:
    """The open key's TTL ends at the request's expiry: Grafana's pending_ttl, 24 hours."""

    async def body(w: World) -> None:
        request = await open_one(w)
        ttl = await w.client.pttl(open_request_key(PERSON, SCOPE))
        assert request.expires_at - w.clock() == timedelta(hours=24)
        assert abs(ttl / 1000 - timedelta(hours=24).total_seconds()) < 5

    scenario(server.url, body)


def test_pending_request_has_no_ttl(server: RedisServer) -> None:
    """A PENDING record never expires on its own: the sweeper must see it to expire it."""

    async def body(w: World) -> None:
        request = await open_one(w)
        assert await w.client.ttl(request_key(request.id)) == -1

    scenario(server.url, body)


def test_reusing_the_open_request_writes_nothing(server: RedisServer) -> None:
    """A step that returns the open request unchanged leaves every key as it was."""

    async def body(w: World) -> None:
        first = await open_one(w)
        before = await snapshot(w.client)
        again = await w.store.open_request(person=PERSON, scope=SCOPE, step=submitting(w, "req_2"))
        assert isinstance(again, RequestTransition)
        assert (again.request.id, again.changed) == (first.id, False)
        assert await snapshot(w.client) == before

    scenario(server.url, body)


def test_refused_transition_writes_nothing(server: RedisServer) -> None:
    """A step that raises leaves the store exactly as it was, audit log included."""

    async def body(w: World) -> None:
        request = await open_one(w)
        before = await snapshot(w.client)

        def self_review(current: AccessRequest) -> RequestTransition:
            return core.review(
                current,
                reviewer=ALICE,
                decision=ReviewDecision.APPROVE,
                policy=POLICY,
                now=w.clock(),
                grant_id="grt_x",
            )

        with pytest.raises(ApprovalError) as refused:
            await w.store.update_request(request.id, self_review)
        assert refused.value.code is ErrorCode.SELF_APPROVAL
        assert await snapshot(w.client) == before

    scenario(server.url, body)


def test_updating_an_unknown_request_raises_not_found(server: RedisServer) -> None:
    """There is nothing to transition when the record does not exist."""

    async def body(w: World) -> None:
        with pytest.raises(NotFoundError):
            await w.store.update_request("req_nope", approving(w))

    scenario(server.url, body)


def test_approval_stores_grant_and_pair_key_that_ends_with_it(server: RedisServer) -> None:
    """Approving writes the grant record, the active index and the pair key, whose TTL ends at
    the grant's expiry."""

    async def body(w: World) -> None:
        request = await open_one(w)
        done = await w.store.update_request(request.id, approving(w))
        assert done.grant is not None
        pair = json.loads(await w.client.get(grant_key(PERSON, SCOPE)))
        assert pair == {
            "id": "grt_1",
            "expires_at": done.grant.expires_at.timestamp(),
            "policy": POLICY.fingerprint,
            "starts_at": done.grant.starts_at.timestamp(),
        }
        ttl = await w.client.pttl(grant_key(PERSON, SCOPE)) / 1000
        assert abs(ttl - (done.grant.expires_at - w.clock()).total_seconds()) < 5
        assert await w.client.zscore(ACTIVE_GRANTS_INDEX, "grt_1") is not None
        assert await w.client.exists(open_request_key(PERSON, SCOPE)) == 0
        assert await w.client.zscore(PENDING_INDEX, request.id) is None

    scenario(server.url, body)


def test_terminal_request_record_expires_after_retention(server: RedisServer) -> None:
    """Once resolved, the record's TTL is the retention period from its resolution."""

    async def body(w: World) -> None:
        request = await open_one(w)
        await w.store.update_request(
            request.id, lambda current: core.cancel(current, by=ALICE, now=w.clock())
        )
        ttl = await w.client.ttl(request_key(request.id))
        assert abs(ttl - RETENTION.total_seconds()) < 5

    scenario(server.url, body)


def test_expiring_an_old_request_keeps_the_newer_open_key(server: RedisServer) -> None:
    """When the sweeper expires a request that a newer one already replaced as the open request
    of the pair, the newer request stays the open one."""

    async def body(w: World) -> None:
        old = await open_one(w, "req_old")
        # Time passes beyond the old request's expiry; its open key is gone (Redis TTL), so the
        # next ask opens a new request before the sweeper has run.
        await w.client.delete(open_request_key(PERSON, SCOPE))
        w.clock.advance(old.expires_at - w.clock() + timedelta(seconds=1))
        new = await open_one(w, "req_new")
        await w.store.update_request(
            old.id, lambda current: core.expire_request(current, now=w.clock())
        )
        assert (await w.client.get(open_request_key(PERSON, SCOPE))).decode() == new.id

    scenario(server.url, body)


def test_ending_an_old_grant_keeps_the_newer_grant_pair_key(server: RedisServer) -> None:
    """Revoking a grant that a newer grant replaced leaves the newer grant's pair key alone."""

    async def body(w: World) -> None:
        first = await open_one(w, "req_1")
        await w.store.update_request(first.id, approving(w, "grt_1"))
        second = await open_one(w, "req_2")
        await w.store.update_request(second.id, approving(w, "grt_2"))
        await w.store.update_grant(
            "grt_1",
            lambda g: core.revoke(g, by=BOB, is_admin=False, is_approver=True, now=w.clock()),
        )
        assert json.loads(await w.client.get(grant_key(PERSON, SCOPE)))["id"] == "grt_2"

    scenario(server.url, body)


def test_asking_sees_the_grant_in_force_and_answering_with_it_writes_nothing(
    server: RedisServer,
) -> None:
    """The ask step is shown ALICE's active grant for the scope; returning it stores nothing."""

    async def body(w: World) -> None:
        first = await open_one(w)
        await w.store.update_request(first.id, approving(w))
        before = await snapshot(w.client)
        seen: list[Grant | None] = []

        def step(_existing: AccessRequest | None, active: Grant | None) -> Grant:
            seen.append(active)
            assert active is not None
            return active

        answer = await w.store.open_request(person=PERSON, scope=SCOPE, step=step)
        assert isinstance(answer, Grant)
        assert answer.id == "grt_1"
        assert [g.id if g else None for g in seen] == ["grt_1"]
        assert await snapshot(w.client) == before

    scenario(server.url, body)


def test_standing_reports_the_open_request_then_the_grant(server: RedisServer) -> None:
    """`standing` finds ALICE's open request, then, once approved, her grant and no request."""

    async def body(w: World) -> None:
        request = await open_one(w)
        waiting = await w.store.standing(PERSON, SCOPE)
        await w.store.update_request(request.id, approving(w))
        granted = await w.store.standing(PERSON, SCOPE)
        other = await w.store.standing(PERSON, Scope("grafana", "0" * 64))
        assert (waiting[0].id if waiting[0] else None, waiting[1]) == (request.id, None)
        assert (granted[0], granted[1].id if granted[1] else None) == (None, "grt_1")
        assert other == (None, None)

    scenario(server.url, body)


def test_records_written_before_people_and_fingerprints_still_read(server: RedisServer) -> None:
    """An old request and grant (no issuer, subject or fingerprint) load; revoking the grant
    deletes its old per-user key, so replicas of the previous release stop honouring it."""

    async def body(w: World) -> None:
        request = await open_one(w)
        done = await w.store.update_request(request.id, approving(w))
        assert done.grant is not None
        old_request = done.request.to_dict()
        old_grant = done.grant.to_dict()
        del old_request["policy_fingerprint"]
        for field in ("issuer", "subject"):
            del old_request["requester"][field]
            del old_request["reviews"][0][field]
            del old_grant[field]
        del old_grant["policy_fingerprint"]
        old_key = legacy_pair_keys("alice@example.com", "grafana")[0]
        await w.client.set(request_key(request.id), json.dumps(old_request))
        await w.client.set(grant_record_key("grt_1"), json.dumps(old_grant))
        await w.client.set(old_key, json.dumps({"id": "grt_1", "expires_at": 2e9}))
        loaded = await w.store.load_request(request.id)
        grant = await w.store.load_grant("grt_1")
        assert loaded is not None
        assert grant is not None
        assert (loaded.policy_fingerprint, loaded.requester.person) == (None, None)
        assert (grant.scope, grant.holder) == (None, None)
        await w.store.update_grant(
            "grt_1",
            lambda g: core.revoke(g, by=BOB, is_admin=False, is_approver=True, now=w.clock()),
        )
        revoked = await w.store.load_grant("grt_1")
        assert revoked is not None
        assert revoked.status is GrantStatus.REVOKED
        assert await w.client.exists(old_key) == 0

    scenario(server.url, body)


def test_concurrent_change_makes_the_step_run_again_on_fresh_data(server: RedisServer) -> None:
    """When another writer changes the record between read and write, the write is dropped and
    the step runs again on what the other writer stored."""
    seen: list[int] = []

    async def body(w: World) -> None:
        request = await open_one(w)
        other = redis.Redis.from_url(server.url)

        def step(current: AccessRequest) -> RequestTransition:
            seen.append(current.version)
            if len(seen) == 1:  # another replica writes after our read, before our EXEC
                raw = json.loads(other.get(request_key(request.id)) or "{}")
                raw.update(version=raw["version"] + 1, justification="changed elsewhere")
                other.set(request_key(request.id), json.dumps(raw))
            return core.cancel(current, by=ALICE, now=w.clock())

        try:
            await w.store.update_request(request.id, step)
        finally:
            other.close()
        stored = await w.store.load_request(request.id)
        assert stored is not None
        assert (stored.status, stored.justification, stored.version) == (
            RequestStatus.CANCELLED,
            "changed elsewhere",
            3,
        )

    scenario(server.url, body)
    assert seen == [1, 2]


def test_audit_chain_verifies_after_a_whole_workflow(server: RedisServer) -> None:
    """Submit, approve, revoke: every entry chains to the one before and the head agrees."""

    async def body(w: World) -> None:
        request = await open_one(w)
        await w.store.update_request(request.id, approving(w))
        await w.store.update_grant(
            "grt_1",
            lambda g: core.revoke(g, by=BOB, is_admin=False, is_approver=True, now=w.clock()),
        )
        verdict = await audit.verify(w.client)
        assert (verdict.ok, verdict.checked) == (True, await audit_length(w.client))
        types = [e["type"] for e in await audit_events(w.client)]
        assert types[-4:] == [
            EventType.REQUEST_REVIEWED,
            EventType.REQUEST_APPROVED,
            EventType.GRANT_ISSUED,
            EventType.GRANT_REVOKED,
        ]

    scenario(server.url, body)
