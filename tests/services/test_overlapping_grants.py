"""One grant in force per (person, application, policy): asking again while it lives answers
with it, so one revocation always ends access (approval service over a real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from app.core.approvals import Grant, GrantKind
from app.core.context import Identity
from app.services.approvals import AccessOutcome
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import (
    ALICE,
    BOB,
    GRAFANA_REASON,
    MALLORY,
    WIKI_REASON,
    World,
    at_desk,
    audit_length,
    person,
    snapshot,
    world,
)


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def scenario(url: str, body: Callable[[World], Awaitable[None]]) -> None:
    """Run `body` against an emptied store with the shipped policies."""

    async def go() -> None:
        async with world(url) as w:
            await body(w)

    asyncio.run(go())


async def ask(w: World, who: Identity = ALICE, application: str = "grafana") -> AccessOutcome:
    """`who` asks for `application` from their desk."""
    reason = WIKI_REASON if application == "wiki" else GRAFANA_REASON
    return await w.service.request_access(
        person(who),
        application=application,
        context=at_desk(who, application),
        justification=reason,
        duration=None,
    )


async def granted(w: World) -> Grant:
    """ALICE asks for Grafana and BOB approves: her grant."""
    outcome = await ask(w)
    assert outcome.request is not None
    approved = await w.service.approve(person(BOB), outcome.request.id, duration=None, comment=None)
    assert approved.grant_id is not None
    return await w.service.get_grant(person(ALICE), approved.grant_id)


def test_asking_while_a_grant_is_in_force_returns_it_and_writes_nothing(
    server: RedisServer,
) -> None:
    """ALICE's second ask answers with her grant, not created, and no new request or event."""

    async def body(w: World) -> None:
        grant = await granted(w)
        before = await snapshot(w.client)
        entries = await audit_length(w.client)
        again = await ask(w)
        assert (again.created, again.request) == (False, None)
        assert again.grant is not None
        assert again.grant.id == grant.id
        assert await audit_length(w.client) == entries
        assert await snapshot(w.client) == before

    scenario(server.url, body)


def test_one_revocation_ends_access_whatever_asking_again_did(server: RedisServer) -> None:
    """After ALICE asks again (and anything that opened is approved), revoking her first grant
    leaves her without access."""

    async def body(w: World) -> None:
        grant = await granted(w)
        again = await ask(w)
        if again.request is not None:  # a second request would be approved by BOB as well
            await w.service.approve(person(BOB), again.request.id, duration=None, comment=None)
        await w.service.revoke(person(BOB), grant.id, reason="incident over")
        state = await w.hot_state(ALICE, "grafana")
        assert (state.grant_id, state.grant_expires_at) == (None, None)

    scenario(server.url, body)


def test_after_revocation_asking_opens_a_new_request(server: RedisServer) -> None:
    """Once the grant is revoked, ALICE may ask again and gets a fresh pending request."""

    async def body(w: World) -> None:
        grant = await granted(w)
        await w.service.revoke(person(BOB), grant.id, reason=None)
        again = await ask(w)
        assert again.created is True
        assert again.request is not None
        assert (await w.hot_state(ALICE, "grafana")).pending_request_id == again.request.id

    scenario(server.url, body)


def test_justifying_again_returns_the_session_in_force(server: RedisServer) -> None:
    """MALLORY's second reason for the wiki answers with her live session, not a second one."""

    async def body(w: World) -> None:
        first = await ask(w, MALLORY, "wiki")
        entries = await audit_length(w.client)
        second = await ask(w, MALLORY, "wiki")
        assert first.grant is not None
        assert second.grant is not None
        assert first.created is True
        assert (second.created, second.grant.id) == (False, first.grant.id)
        assert second.grant.kind is GrantKind.JUSTIFICATION
        assert await audit_length(w.client) == entries

    scenario(server.url, body)


def test_ending_the_session_ends_wiki_access_at_once(server: RedisServer) -> None:
    """MALLORY ends her session after asking twice: the hot path sees no session."""

    async def body(w: World) -> None:
        first = await ask(w, MALLORY, "wiki")
        await ask(w, MALLORY, "wiki")
        assert first.grant is not None
        await w.service.revoke(person(MALLORY), first.grant.id, reason=None)
        assert (await w.hot_state(MALLORY, "wiki")).justified_until is None

    scenario(server.url, body)


def test_standing_reports_the_grant_in_force(server: RedisServer) -> None:
    """What the request page asks: ALICE's live grant under the policy she would ask under."""

    async def body(w: World) -> None:
        grant = await granted(w)
        standing = await w.service.standing(
            person(ALICE), application="grafana", context=at_desk(ALICE, "grafana")
        )
        assert standing.request is None
        assert standing.grant is not None
        assert standing.grant.id == grant.id

    scenario(server.url, body)
