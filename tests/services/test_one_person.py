"""A person is (issuer, subject), and one e-mail is one person too: neither a second e-mail nor a
second subject lets one person act as two (approval service over a real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest

from app.core.approvals import AccessRequest, ApprovalError, ErrorCode, RequestStatus
from app.core.context import Identity
from app.services.errors import NotVisibleError
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    DB_REASON,
    GRAFANA_REASON,
    World,
    at_desk,
    person,
    world,
)

#: ALICE's own subject in a token that carries another e-mail and the SRE leads' group.
ALICE_AS_LEAD = replace(
    ALICE, email="alice.oncall@example.com", groups=frozenset({"sre", "sre-leads"})
)
#: CAROL's subject under a second e-mail, still a DBA lead.
CAROL_SECOND_EMAIL = replace(CAROL, email="carol.dba@example.com")
#: Another subject with CAROL's e-mail (another account, or an IdP that reuses addresses).
CAROL_SECOND_SUBJECT = replace(CAROL, subject="u-carol-2", email="Carol@Example.com")
#: ALICE's subject and e-mail from another issuer: another person.
ALICE_ELSEWHERE = replace(ALICE, issuer="https://other-idp.example.net")
#: Someone else with ALICE's e-mail.
ALICE_LOOKALIKE = Identity(
    subject="u-eve", email="alice@example.com", groups=frozenset({"engineering"})
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


async def ask(w: World, who: Identity, application: str = "grafana") -> AccessRequest:
    """`who` asks for `application` from their desk."""
    reason = GRAFANA_REASON if application == "grafana" else DB_REASON
    outcome = await w.service.request_access(
        person(who),
        application=application,
        context=at_desk(who, application),
        justification=reason,
        duration=None,
    )
    assert outcome.request is not None
    return outcome.request


def test_the_requesters_subject_with_another_email_cannot_approve(server: RedisServer) -> None:
    """ALICE's subject under another e-mail (in the leads' group) is refused as self-approval."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        with pytest.raises(ApprovalError) as refused:
            await w.service.approve(person(ALICE_AS_LEAD), request.id, duration=None, comment=None)
        assert refused.value.code is ErrorCode.SELF_APPROVAL
        assert (await w.hot_state(ALICE, "grafana")).grant_id is None

    scenario(server.url, body)


def test_another_subject_with_the_requesters_email_cannot_approve(server: RedisServer) -> None:
    """The e-mail is a second guard: the same address under another subject is the requester."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        lookalike = replace(ALICE_LOOKALIKE, groups=frozenset({"sre-leads"}))
        with pytest.raises(ApprovalError) as refused:
            await w.service.approve(person(lookalike), request.id, duration=None, comment=None)
        assert refused.value.code is ErrorCode.SELF_APPROVAL

    scenario(server.url, body)


def test_one_subject_under_two_emails_fills_one_place_of_a_quorum(server: RedisServer) -> None:
    """CAROL approving twice under two e-mails leaves the two-approver console pending."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE, "db-console")
        await w.service.approve(person(CAROL), request.id, duration=None, comment=None)
        after = await w.service.approve(
            person(CAROL_SECOND_EMAIL), request.id, duration=None, comment=None
        )
        assert after.status is RequestStatus.PENDING
        assert (await w.hot_state(ALICE, "db-console")).grant_id is None

    scenario(server.url, body)


def test_one_email_under_two_subjects_fills_one_place_of_a_quorum(server: RedisServer) -> None:
    """Two subjects with CAROL's e-mail (in any case) count once; DAVE then completes it."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE, "db-console")
        await w.service.approve(person(CAROL), request.id, duration=None, comment=None)
        still = await w.service.approve(
            person(CAROL_SECOND_SUBJECT), request.id, duration=None, comment=None
        )
        done = await w.service.approve(person(DAVE), request.id, duration=None, comment=None)
        assert still.status is RequestStatus.PENDING
        assert done.status is RequestStatus.APPROVED

    scenario(server.url, body)


def test_someone_with_the_requesters_email_cannot_see_or_cancel_it(server: RedisServer) -> None:
    """Their own request is by (issuer, subject): ALICE's e-mail alone shows and cancels nothing."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        with pytest.raises(NotVisibleError):
            await w.service.get_request(person(ALICE_LOOKALIKE), request.id)
        with pytest.raises(NotVisibleError):
            await w.service.cancel(person(ALICE_LOOKALIKE), request.id)
        mine = await w.service.list_requests(person(ALICE_LOOKALIKE), mine=True)
        assert mine.items == ()

    scenario(server.url, body)


def test_mine_follows_the_person_across_emails(server: RedisServer) -> None:
    """ALICE's subject under a new e-mail still lists and cancels her request."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        renamed = replace(ALICE, email="alice.renamed@example.com")
        mine = await w.service.list_requests(person(renamed), mine=True)
        cancelled = await w.service.cancel(person(renamed), request.id)
        assert [r.id for r in mine.items] == [request.id]
        assert cancelled.status is RequestStatus.CANCELLED

    scenario(server.url, body)


def test_the_same_subject_from_another_issuer_holds_no_grant(server: RedisServer) -> None:
    """ALICE's grant does not let in (other issuer, her subject and e-mail), nor list as theirs."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        approved = await w.service.approve(person(BOB), request.id, duration=None, comment=None)
        assert approved.grant_id is not None
        theirs = await w.service.list_grants(person(ALICE_ELSEWHERE), mine=True)
        assert (await w.hot_state(ALICE, "grafana")).grant_id == approved.grant_id
        assert (await w.hot_state(ALICE_ELSEWHERE, "grafana")).grant_id is None
        assert theirs.items == ()

    scenario(server.url, body)


def test_only_the_holder_ends_a_grant_early(server: RedisServer) -> None:
    """ALICE (by subject) ends her grant; someone with her e-mail may not."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        approved = await w.service.approve(person(BOB), request.id, duration=None, comment=None)
        assert approved.grant_id is not None
        with pytest.raises(NotVisibleError):
            await w.service.revoke(person(ALICE_LOOKALIKE), approved.grant_id, reason=None)
        ended = await w.service.revoke(person(ALICE), approved.grant_id, reason=None)
        assert ended.ended_early
        assert (await w.hot_state(ALICE, "grafana")).grant_id is None

    scenario(server.url, body)
