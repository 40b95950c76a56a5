"""Listing requests and grants over a real Redis (services.ports.Listings): a query names whose
records, in what state, of which application; the store picks the index, fills the page past
what the caller may not see, and hands out cursors in the format API clients already hold.

ALICE and ERIN, engineers, ask for Grafana (and ALICE for the database console); BOB approves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import pytest

from app.adapters.store.listing import RedisListings
from app.core.approvals import AccessRequest, Grant, Person, RequestStatus
from app.core.context import Identity
from app.services.errors import BadCursorError
from app.services.ports import GrantQuery, RequestQuery
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import (
    ALICE,
    BOB,
    DB_REASON,
    GRAFANA_REASON,
    ROOT,
    WIKI_REASON,
    World,
    at_desk,
    person,
    world,
)

T = TypeVar("T")
REASONS = {"grafana": GRAFANA_REASON, "db-console": DB_REASON, "wiki": WIKI_REASON}
ERIN = Identity(subject="u-erin", email="erin@example.com", groups=frozenset({"engineering"}))


def everything(_record: object) -> bool:
    """The caller may see every record."""
    return True


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def scenario(url: str, body: Callable[[World, RedisListings], Awaitable[T]]) -> T:
    """Run `body` against an emptied store, with listings over the same client."""

    async def go() -> T:
        async with world(url) as w:
            return await body(w, RedisListings(w.client))

    return asyncio.run(go())


async def ask(w: World, who: Identity, application: str = "grafana") -> AccessRequest:
    """`who` asks from their desk, one second after whatever happened before."""
    outcome = await w.service.request_access(
        person(who),
        application=application,
        context=at_desk(who, application),
        justification=REASONS[application],
        duration=None,
    )
    w.clock.advance(timedelta(seconds=1))
    assert outcome.request is not None or outcome.grant is not None
    return outcome.request  # type: ignore[return-value]


async def granted(w: World, who: Identity) -> Grant:
    """`who` asks for Grafana and BOB approves: the grant."""
    request = await ask(w, who)
    done = await w.service.approve(person(BOB), request.id, duration=None, comment=None)
    w.clock.advance(timedelta(seconds=1))
    grant = await w.store.load_grant(done.grant_id or "")
    assert grant is not None
    return grant


def test_a_requesters_query_lists_their_requests_only(server: RedisServer) -> None:
    """ALICE's query finds her two requests, newest first, and none of ERIN's."""

    async def body(w: World, listings: RedisListings) -> tuple[list[str], list[str]]:
        first = await ask(w, ALICE)
        await ask(w, ERIN)
        second = await ask(w, ALICE, "db-console")
        page = await listings.requests(RequestQuery(visible=everything, requester=Person.of(ALICE)))
        return [r.id for r in page.items], [second.id, first.id]

    found, expected = scenario(server.url, body)
    assert found == expected


def test_status_and_application_narrow_the_listing(server: RedisServer) -> None:
    """Pending Grafana requests: ERIN's open one, not ALICE's approved one."""

    async def body(w: World, listings: RedisListings) -> tuple[list[str], str]:
        await granted(w, ALICE)
        erins = await ask(w, ERIN)
        page = await listings.requests(
            RequestQuery(visible=everything, status=RequestStatus.PENDING, application="grafana")
        )
        return [r.id for r in page.items], erins.id

    found, erins = scenario(server.url, body)
    assert found == [erins]


def test_what_the_caller_may_not_see_does_not_count_towards_the_limit(
    server: RedisServer,
) -> None:
    """Six requests, every other one hidden from the caller: a page of three holds three
    visible ones, and the next page the rest."""

    async def body(w: World, listings: RedisListings) -> tuple[list[str], list[str], set[str]]:
        made = []
        for n in range(6):
            asker = Identity(f"u-eng{n}", f"eng{n}@example.com", frozenset({"engineering"}))
            made.append((await ask(w, asker)).id)
        shown = set(made[::2])
        query = RequestQuery(visible=lambda r: r.id in shown, limit=2)
        first = await listings.requests(query)
        assert first.next_cursor is not None
        second = await listings.requests(
            RequestQuery(visible=lambda r: r.id in shown, limit=2, cursor=first.next_cursor)
        )
        return [r.id for r in first.items], [r.id for r in second.items], shown

    first, second, shown = scenario(server.url, body)
    assert len(first) == 2
    assert set(first + second) == shown


def test_cursors_keep_the_format_clients_hold(server: RedisServer) -> None:
    """A cursor is "score:passed" (the created-at reached, rows passed at it): the one handed
    out has that form, and one written in that form continues after that row."""

    async def body(w: World, listings: RedisListings) -> tuple[str | None, str, list[str]]:
        made = [await ask(w, who) for who in (ALICE, ERIN, ROOT)]
        page = await listings.requests(RequestQuery(visible=everything, limit=2))
        newest = made[2].created_at.timestamp()
        after_newest = await listings.requests(
            RequestQuery(visible=everything, cursor=f"{newest!r}:1")
        )
        second = made[1].created_at.timestamp()
        return page.next_cursor, f"{second!r}:1", [r.id for r in after_newest.items]

    handed_out, expected, rest = scenario(server.url, body)
    assert handed_out == expected
    assert len(rest) == 2


@pytest.mark.parametrize(
    "cursor", ["tomorrow", "1.5", "nan:1", "inf:0", "1.5:-1", "1.5:1000001", "1.5:x", ":"]
)
def test_a_cursor_the_store_did_not_hand_out_is_refused(server: RedisServer, cursor: str) -> None:
    """Anything but "finite score:0..1000000" is a BadCursorError, before Redis is asked."""

    async def body(_w: World, listings: RedisListings) -> None:
        with pytest.raises(BadCursorError):
            await listings.requests(RequestQuery(visible=everything, cursor=cursor))
        with pytest.raises(BadCursorError):
            await listings.grants(GrantQuery(visible=everything, cursor=cursor))

    scenario(server.url, body)


def test_grants_by_holder_by_user_name_and_active_now(server: RedisServer) -> None:
    """ALICE's grants by person and by name; once revoked hers is not active, ERIN's is."""

    async def body(w: World, listings: RedisListings) -> dict[str, list[str]]:
        alices = await granted(w, ALICE)
        erins = await granted(w, ERIN)
        await w.service.revoke(person(BOB), alices.id, reason=None)
        now = w.clock()

        async def ids(query: GrantQuery) -> list[str]:
            return [g.id for g in (await listings.grants(query)).items]

        return {
            "held": await ids(GrantQuery(visible=everything, holder=Person.of(ALICE))),
            "named": await ids(GrantQuery(visible=everything, user=ALICE.user)),
            "active": await ids(GrantQuery(visible=everything, active_at=now)),
            "active grafana": await ids(
                GrantQuery(visible=everything, application="grafana", active_at=now)
            ),
            "all": await ids(GrantQuery(visible=everything)),
            "expected": [alices.id, erins.id],
        }

    found = scenario(server.url, body)
    alices, erins = found.pop("expected")
    assert found == {
        "held": [alices],
        "named": [alices],
        "active": [erins],
        "active grafana": [erins],
        "all": [erins, alices],
    }
