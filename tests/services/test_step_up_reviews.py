"""Step-up through the service and a real Redis: the database console's approvers must have
signed in with MFA within 15 minutes to approve; a refusal writes nothing; every review's audit
entry carries the reviewer's amr and auth_time, and the chain still verifies."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from app.adapters.store import audit
from app.core.approvals import AccessRequest, ErrorCode, RequestStatus, StepUpRequiredError
from app.core.context import Identity
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import (
    ALICE,
    CAROL,
    DAVE,
    DB_REASON,
    World,
    at_desk,
    audit_events,
    person,
    signed_in,
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


async def alice_asks_for_the_console(w: World) -> AccessRequest:
    """ALICE (MFA) asks for the database console."""
    outcome = await w.service.request_access(
        person(ALICE),
        application="db-console",
        context=at_desk(ALICE, "db-console"),
        justification=DB_REASON,
        duration=None,
    )
    assert outcome.request is not None
    return outcome.request


async def approve(w: World, who: Identity, request: AccessRequest) -> AccessRequest:
    """`who` approves `request` with the policy's default duration."""
    return await w.service.approve(person(who), request.id, duration=None, comment=None)


def test_a_password_only_approver_is_refused_and_nothing_is_written(server: RedisServer) -> None:
    """CAROL signed in a minute ago with a password only: step-up-required, the store as it was."""

    async def body(w: World) -> None:
        request = await alice_asks_for_the_console(w)
        password = signed_in(CAROL, amr={"pwd"}, at=w.clock() - timedelta(minutes=1))
        before = await snapshot(w.client)
        with pytest.raises(StepUpRequiredError) as info:
            await approve(w, password, request)
        assert info.value.code is ErrorCode.STEP_UP_REQUIRED
        assert (info.value.mfa, info.value.max_age) == (True, 900)
        assert await snapshot(w.client) == before

    scenario(server.url, body)


def test_an_approver_without_auth_time_is_refused(server: RedisServer) -> None:
    """CAROL with MFA but no auth_time claim cannot show a recent sign-in."""

    async def body(w: World) -> None:
        request = await alice_asks_for_the_console(w)
        timeless = signed_in(CAROL, amr={"pwd", "mfa"}, at=None)
        with pytest.raises(StepUpRequiredError) as info:
            await approve(w, timeless, request)
        assert info.value.missing == ("recent-sign-in",)

    scenario(server.url, body)


def test_a_sign_in_that_ages_past_fifteen_minutes_must_be_renewed(server: RedisServer) -> None:
    """CAROL approves; twenty minutes on, DAVE's sign-in of the start is too old; he signs in
    again and his approval completes the quorum."""

    async def body(w: World) -> None:
        request = await alice_asks_for_the_console(w)
        await approve(w, CAROL, request)
        w.clock.advance(timedelta(minutes=20))
        with pytest.raises(StepUpRequiredError):
            await approve(w, DAVE, request)
        fresh = signed_in(DAVE, amr={"pwd", "hwk"}, at=w.clock())
        done = await approve(w, fresh, request)
        assert done.status is RequestStatus.APPROVED

    scenario(server.url, body)


def test_fresh_mfa_approvers_approve_and_the_audit_records_their_sign_in(
    server: RedisServer,
) -> None:
    """CAROL and DAVE, fresh MFA sign-ins, approve; each review entry carries amr and
    auth_time, and `audit verify` still holds."""

    async def body(w: World) -> None:
        request = await alice_asks_for_the_console(w)
        dave = signed_in(DAVE, amr={"pwd", "otp"}, at=w.clock() - timedelta(minutes=2))
        await approve(w, CAROL, request)
        done = await approve(w, dave, request)
        assert done.status is RequestStatus.APPROVED
        reviews = [e for e in await audit_events(w.client) if e["type"] == "request_reviewed"]
        assert [(e["actor"], e["data"]["amr"], e["data"]["auth_time"]) for e in reviews] == [
            ("carol@example.com", ["mfa", "pwd"], CAROL.claims["auth_time"]),
            ("dave@example.com", ["otp", "pwd"], dave.claims["auth_time"]),
        ]
        assert (await audit.verify(w.client)).ok

    scenario(server.url, body)


def test_a_stale_approver_may_still_deny(server: RedisServer) -> None:
    """CAROL, password only and no auth_time, denies: the request ends and the entry says how
    she signed in."""

    async def body(w: World) -> None:
        request = await alice_asks_for_the_console(w)
        stale = signed_in(CAROL, amr={"pwd"}, at=None)
        done = await w.service.deny(person(stale), request.id, comment="no change window")
        assert done.status is RequestStatus.DENIED
        reviewed = [e for e in await audit_events(w.client) if e["type"] == "request_reviewed"]
        assert (reviewed[0]["data"]["amr"], reviewed[0]["data"]["auth_time"]) == (["pwd"], None)
        assert (await audit.verify(w.client)).ok

    scenario(server.url, body)
