"""The approval service over a real Redis: asking, reviewing, cancelling, revoking, expiring and
listing, with the shipped policies, and refusals that leave the store untouched."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import pytest

from app.adapters.store.keys import (
    PENDING_INDEX,
    grant_record_key,
    open_request_key,
    request_key,
)
from app.core.approvals import (
    AccessRequest,
    ApprovalError,
    ErrorCode,
    GrantKind,
    GrantStatus,
    Person,
    RequestStatus,
    ReviewDecision,
)
from app.core.context import Identity
from app.services import workflow as workflow_module
from app.services.errors import BadCursorError, NotVisibleError
from app.services.principal import Principal
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    DB_REASON,
    GRAFANA_REASON,
    MALLORY,
    RETENTION,
    ROOT,
    WIKI_REASON,
    World,
    at_desk,
    audit_events,
    audit_length,
    person,
    snapshot,
    world,
)

T = TypeVar("T")
HOUR = timedelta(hours=1)
REASONS = {"grafana": GRAFANA_REASON, "db-console": DB_REASON, "wiki": WIKI_REASON}
ADMIN = Principal(identity=ROOT, is_admin=True)


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def scenario(url: str, body: Callable[[World], Awaitable[T]]) -> T:
    """Run `body` against an emptied store with a fresh service."""

    async def go() -> T:
        async with world(url) as w:
            return await body(w)

    return asyncio.run(go())


async def ask(
    w: World,
    who: Identity,
    application: str = "grafana",
    *,
    reason: str | None = None,
    duration: timedelta | None = None,
) -> AccessRequest:
    """`who` asks for `application` from their desk; the request that produced."""
    outcome = await w.service.request_access(
        person(who),
        application=application,
        context=at_desk(who, application),
        justification=REASONS[application] if reason is None else reason,
        duration=duration,
    )
    assert outcome.request is not None
    return outcome.request


async def approve(
    w: World, who: Identity | Principal, request_id: str, duration: timedelta | None = None
) -> AccessRequest:
    """`who` approves, with an optional duration."""
    principal = who if isinstance(who, Principal) else person(who)
    return await w.service.approve(principal, request_id, duration=duration, comment=None)


async def refused(action: Awaitable[object]) -> ErrorCode:
    """The code of the ApprovalError `action` raises."""
    with pytest.raises(ApprovalError) as info:
        await action
    return info.value.code


# -- asking ------------------------------------------------------------------------------------


def test_asking_opens_a_pending_request_named_by_the_pair_key(server: RedisServer) -> None:
    """ALICE's ask is PENDING, and the hot path sees it as her open request."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        state = await w.hot_state(ALICE, "grafana")
        assert request.status is RequestStatus.PENDING
        assert state.pending_request_id == request.id
        assert state.grant_expires_at is None

    scenario(server.url, body)


def test_asking_again_returns_the_open_request_and_writes_nothing(server: RedisServer) -> None:
    """A second ask returns the same request, marked not created, with no new audit entry."""

    async def body(w: World) -> None:
        first = await ask(w, ALICE)
        entries = await audit_length(w.client)
        again = await w.service.request_access(
            person(ALICE),
            application="grafana",
            context=at_desk(ALICE, "grafana"),
            justification="INC-43 a different reason",
            duration=None,
        )
        assert again.request is not None
        assert (again.request.id, again.created) == (first.id, False)
        assert await audit_length(w.client) == entries

    scenario(server.url, body)


def test_asking_for_more_than_the_maximum_is_refused(server: RedisServer) -> None:
    """Grafana grants at most 8 hours: asking for 9 is refused and nothing is stored."""

    async def body(w: World) -> None:
        code = await refused(ask(w, ALICE, duration=9 * HOUR))
        assert code is ErrorCode.DURATION_TOO_LONG
        assert await snapshot(w.client) == {}

    scenario(server.url, body)


@pytest.mark.parametrize(
    ("application", "reason", "code"),
    [
        ("grafana", "fix it", ErrorCode.JUSTIFICATION_TOO_SHORT),
        (
            "db-console",
            "need to look at the orders table",
            ErrorCode.JUSTIFICATION_PATTERN_MISMATCH,
        ),
        ("grafana", "INC-42 " + "x" * 1_000_000, ErrorCode.JUSTIFICATION_TOO_LONG),
        (
            "grafana",
            "INC-42 dashboards\x1b[2J are blank",
            ErrorCode.JUSTIFICATION_CONTROL_CHARACTERS,
        ),
        ("wiki", "runbook\x00 please", ErrorCode.JUSTIFICATION_CONTROL_CHARACTERS),
    ],
    ids=["too-short", "no-ticket", "one-megabyte", "escape-sequence", "nul-on-wiki"],
)
def test_a_bad_justification_is_refused_and_nothing_stored(
    server: RedisServer, application: str, reason: str, code: ErrorCode
) -> None:
    """Each broken reason gets its own code; no request, grant or audit entry is written."""

    async def body(w: World) -> None:
        outcome = w.service.request_access(
            person(ALICE),
            application=application,
            context=at_desk(ALICE, application),
            justification=reason,
            duration=None,
        )
        assert await refused(outcome) is code
        assert await snapshot(w.client) == {}

    scenario(server.url, body)


# -- reviewing ---------------------------------------------------------------------------------


def test_approval_issues_a_grant_the_hot_path_reads_with_its_expiry(server: RedisServer) -> None:
    """BOB approves ALICE's Grafana request: APPROVED, and the pair key holds the grant until
    the policy's default hour from the approval is up."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        w.clock.advance(timedelta(minutes=5))
        approved = await approve(w, BOB, request.id)
        state = await w.hot_state(ALICE, "grafana")
        assert approved.status is RequestStatus.APPROVED
        assert state.grant_id == approved.grant_id
        assert state.grant_expires_at == w.clock() + HOUR
        assert state.pending_request_id is None

    scenario(server.url, body)


def test_approver_chooses_a_shorter_grant(server: RedisServer) -> None:
    """An approver's chosen duration is the grant's length."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        await approve(w, BOB, request.id, duration=timedelta(minutes=20))
        state = await w.hot_state(ALICE, "grafana")
        assert state.grant_expires_at == w.clock() + timedelta(minutes=20)

    scenario(server.url, body)


def test_one_of_two_approvals_leaves_db_console_pending(server: RedisServer) -> None:
    """The database console needs two approvers: CAROL alone is not enough."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE, "db-console")
        after = await approve(w, CAROL, request.id)
        state = await w.hot_state(ALICE, "db-console")
        assert after.status is RequestStatus.PENDING
        assert state.grant_expires_at is None

    scenario(server.url, body)


def test_the_same_approver_twice_counts_once(server: RedisServer) -> None:
    """CAROL approving again changes nothing: one review, still PENDING, no audit entry."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE, "db-console")
        await approve(w, CAROL, request.id)
        entries = await audit_length(w.client)
        again = await approve(w, CAROL, request.id)
        assert again.status is RequestStatus.PENDING
        assert [r.reviewer for r in again.reviews] == ["carol@example.com"]
        assert await audit_length(w.client) == entries

    scenario(server.url, body)


def test_carol_and_dave_together_open_db_console(server: RedisServer) -> None:
    """Two distinct approvers meet the 2-of-N rule and issue the grant."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE, "db-console")
        await approve(w, CAROL, request.id)
        done = await approve(w, DAVE, request.id)
        state = await w.hot_state(ALICE, "db-console")
        assert done.status is RequestStatus.APPROVED
        assert state.grant_expires_at == w.clock() + timedelta(minutes=30)

    scenario(server.url, body)


def test_a_deny_ends_the_request(server: RedisServer) -> None:
    """BOB's deny resolves the request as DENIED: no grant, no open request."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        denied = await w.service.deny(person(BOB), request.id, comment="not during the freeze")
        state = await w.hot_state(ALICE, "grafana")
        assert (denied.status, denied.resolution_comment) == (
            RequestStatus.DENIED,
            "not during the freeze",
        )
        assert (state.grant_expires_at, state.pending_request_id) == (None, None)

    scenario(server.url, body)


def test_a_deny_after_one_approval_still_ends_db_console(server: RedisServer) -> None:
    """DAVE's deny ends the request although CAROL already approved."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE, "db-console")
        await approve(w, CAROL, request.id)
        denied = await w.service.deny(person(DAVE), request.id, comment=None)
        assert denied.status is RequestStatus.DENIED
        assert [r.decision for r in denied.reviews] == [ReviewDecision.APPROVE, ReviewDecision.DENY]

    scenario(server.url, body)


def test_requester_cancels_own_request(server: RedisServer) -> None:
    """ALICE withdraws her request: CANCELLED and no longer open."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        cancelled = await w.service.cancel(person(ALICE), request.id)
        state = await w.hot_state(ALICE, "grafana")
        assert cancelled.status is RequestStatus.CANCELLED
        assert state.pending_request_id is None

    scenario(server.url, body)


def test_an_approver_cannot_cancel_someone_elses_request(server: RedisServer) -> None:
    """BOB may see ALICE's request but only she can withdraw it; nothing changes."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        before = await snapshot(w.client)
        assert (
            await refused(w.service.cancel(person(BOB), request.id)) is ErrorCode.NOT_YOUR_REQUEST
        )
        assert await snapshot(w.client) == before

    scenario(server.url, body)


# -- grants ------------------------------------------------------------------------------------


def test_revoking_removes_the_pair_key_at_once(server: RedisServer) -> None:
    """After BOB revokes, the very next hot-path read finds no grant."""

    async def body(w: World) -> None:
        approved = await approve(w, BOB, (await ask(w, ALICE)).id)
        assert approved.grant_id is not None
        revoked = await w.service.revoke(person(BOB), approved.grant_id, reason="done early")
        state = await w.hot_state(ALICE, "grafana")
        assert (revoked.status, revoked.revoked_by) == (GrantStatus.REVOKED, "bob@example.com")
        assert state.grant_expires_at is None

    scenario(server.url, body)


def test_holder_ends_own_grant_early(server: RedisServer) -> None:
    """ALICE ends her own grant: REVOKED by herself, logged as grant_ended, pair key gone."""

    async def body(w: World) -> None:
        approved = await approve(w, BOB, (await ask(w, ALICE)).id)
        assert approved.grant_id is not None
        ended = await w.service.revoke(person(ALICE), approved.grant_id, reason=None)
        state = await w.hot_state(ALICE, "grafana")
        assert ended.ended_early
        assert (await audit_events(w.client))[-1]["type"] == "grant_ended"
        assert state.grant_expires_at is None

    scenario(server.url, body)


def test_justification_only_app_opens_a_justified_session(server: RedisServer) -> None:
    """On the wiki a reason is enough: a justified session for 8 hours, the reason audited."""

    async def body(w: World) -> None:
        outcome = await w.service.request_access(
            person(ALICE),
            application="wiki",
            context=at_desk(ALICE, "wiki"),
            justification=WIKI_REASON,
            duration=None,
        )
        state = await w.hot_state(ALICE, "wiki")
        assert outcome.grant is not None
        assert outcome.request is None
        assert outcome.grant.kind is GrantKind.JUSTIFICATION
        assert state.justified_until == w.clock() + timedelta(hours=8)
        recorded = [
            e for e in await audit_events(w.client) if e["type"] == "justification_recorded"
        ]
        assert [e["data"]["justification"] for e in recorded] == [WIKI_REASON]

    scenario(server.url, body)


# -- time --------------------------------------------------------------------------------------


def test_sweep_expires_a_pending_request_past_its_pending_ttl(server: RedisServer) -> None:
    """A day and a second later the sweep expires ALICE's unanswered request: EXPIRED, audited,
    and no longer the open request."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        w.clock.advance(timedelta(hours=24, seconds=1))
        assert await w.service.sweep() == (1, 0)
        stored = await w.store.load_request(request.id)
        assert stored is not None
        assert stored.status is RequestStatus.EXPIRED
        assert (await audit_events(w.client))[-1]["type"] == "request_expired"
        open_key = open_request_key(Person.of(ALICE), w.scope(ALICE, "grafana"))
        assert await w.client.exists(open_key) == 0
        assert await w.client.zcard(PENDING_INDEX) == 0

    scenario(server.url, body)


def test_sweep_leaves_a_request_that_is_not_yet_due(server: RedisServer) -> None:
    """Before its pending_ttl is up a request stays PENDING and nothing is written."""

    async def body(w: World) -> None:
        await ask(w, ALICE)
        w.clock.advance(timedelta(hours=23, minutes=59))
        before = await snapshot(w.client)
        assert await w.service.sweep() == (0, 0)
        assert await snapshot(w.client) == before

    scenario(server.url, body)


def test_sweep_expires_a_grant_past_its_end(server: RedisServer) -> None:
    """An hour after approval the sweep expires the grant: EXPIRED, audited, pair key gone."""

    async def body(w: World) -> None:
        approved = await approve(w, BOB, (await ask(w, ALICE)).id)
        assert approved.grant_id is not None
        w.clock.advance(HOUR)
        assert await w.service.sweep() == (0, 1)
        grant = await w.store.load_grant(approved.grant_id)
        assert grant is not None
        assert grant.status is GrantStatus.EXPIRED
        assert (await audit_events(w.client))[-1]["type"] == "grant_expired"
        state = await w.hot_state(ALICE, "grafana")
        assert state.grant_expires_at is None

    scenario(server.url, body)


def test_ended_records_are_kept_for_the_retention_period(server: RedisServer) -> None:
    """A denied request and a revoked grant both expire from Redis after the retention period."""

    async def body(w: World) -> None:
        approved = await approve(w, BOB, (await ask(w, ALICE)).id)
        assert approved.grant_id is not None
        await w.service.revoke(person(BOB), approved.grant_id, reason=None)
        denied = await w.service.deny(
            person(CAROL), (await ask(w, ALICE, "db-console")).id, comment=None
        )
        for key in (grant_record_key(approved.grant_id), request_key(denied.id)):
            assert abs(await w.client.ttl(key) - RETENTION.total_seconds()) < 5

    scenario(server.url, body)


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reviewer",
    [
        Principal(identity=BOB),
        Principal(identity=BOB, token="chatops", scopes=frozenset({"requests:review"})),
        Principal(
            identity=Identity("bob-sso", "Bob@Example.com", frozenset({"sre-leads"})),
            token="chatops",
            scopes=frozenset({"requests:review"}),
        ),
    ],
    ids=["himself", "token-acting-for-him", "his-email-under-another-subject"],
)
def test_self_approval_is_refused(server: RedisServer, reviewer: Principal) -> None:
    """BOB, an SRE lead, asks for Grafana from his laptop; he cannot approve it in any guise."""

    async def body(w: World) -> None:
        request = await ask(w, BOB)
        before = await snapshot(w.client)
        assert await refused(approve(w, reviewer, request.id)) is ErrorCode.SELF_APPROVAL
        assert await snapshot(w.client) == before

    scenario(server.url, body)


def test_an_admin_who_is_not_an_approver_cannot_approve(server: RedisServer) -> None:
    """Admins see every request, but only the policy's approvers review."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        before = await snapshot(w.client)
        assert await refused(approve(w, ADMIN, request.id)) is ErrorCode.NOT_AN_APPROVER
        assert await snapshot(w.client) == before

    scenario(server.url, body)


@pytest.mark.parametrize(
    ("duration", "code"),
    [
        (9 * HOUR, ErrorCode.DURATION_TOO_LONG),
        (timedelta(0), ErrorCode.DURATION_NOT_POSITIVE),
        (-HOUR, ErrorCode.DURATION_NOT_POSITIVE),
    ],
    ids=["over-max", "zero", "negative"],
)
def test_an_out_of_range_duration_is_refused(
    server: RedisServer, duration: timedelta, code: ErrorCode
) -> None:
    """BOB cannot approve for longer than 8 hours, nor for no time at all."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        before = await snapshot(w.client)
        assert await refused(approve(w, BOB, request.id, duration)) is code
        assert await snapshot(w.client) == before

    scenario(server.url, body)


@pytest.mark.parametrize("ending", ["denied", "cancelled", "expired"])
def test_reviewing_a_resolved_request_is_refused(server: RedisServer, ending: str) -> None:
    """Once denied, cancelled or swept as expired, approving is refused and nothing changes."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        if ending == "denied":
            await w.service.deny(person(BOB), request.id, comment=None)
        elif ending == "cancelled":
            await w.service.cancel(person(ALICE), request.id)
        else:
            w.clock.advance(timedelta(hours=25))
            assert await w.service.sweep() == (1, 0)
        before = await snapshot(w.client)
        assert await refused(approve(w, BOB, request.id)) is ErrorCode.REQUEST_NOT_PENDING
        assert await snapshot(w.client) == before

    scenario(server.url, body)


def test_approving_a_request_past_due_records_only_its_expiry(server: RedisServer) -> None:
    """Approving after pending_ttl, before the sweep: refused as expired, the request is
    expired on the spot, and no review is recorded."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        w.clock.advance(timedelta(hours=24))
        entries = await audit_length(w.client)
        assert await refused(approve(w, BOB, request.id)) is ErrorCode.REQUEST_EXPIRED
        stored = await w.store.load_request(request.id)
        assert stored is not None
        assert (stored.status, stored.reviews) == (RequestStatus.EXPIRED, ())
        assert [e["type"] for e in (await audit_events(w.client))[entries:]] == ["request_expired"]

    scenario(server.url, body)


# -- visibility --------------------------------------------------------------------------------


def test_mallory_cannot_see_or_touch_alices_request(server: RedisServer) -> None:
    """To MALLORY, ALICE's request does not exist, whatever she tries."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE)
        mallory = person(MALLORY)
        for attempt in (
            w.service.get_request(mallory, request.id),
            w.service.approve(mallory, request.id, duration=None, comment=None),
            w.service.deny(mallory, request.id, comment=None),
            w.service.cancel(mallory, request.id),
        ):
            with pytest.raises(NotVisibleError):
                await attempt

    scenario(server.url, body)


def test_an_approver_of_another_application_cannot_see_the_request(server: RedisServer) -> None:
    """BOB approves Grafana, not the database console: ALICE's db-console request is hidden."""

    async def body(w: World) -> None:
        request = await ask(w, ALICE, "db-console")
        with pytest.raises(NotVisibleError):
            await approve(w, BOB, request.id)

    scenario(server.url, body)


def test_unknown_ids_are_not_visible(server: RedisServer) -> None:
    """An id nobody issued is "not found" for reads, reviews, cancels and revokes alike."""

    async def body(w: World) -> None:
        for attempt in (
            w.service.get_request(ADMIN, "req_unknown"),
            w.service.get_grant(ADMIN, "grt_unknown"),
            w.service.approve(person(BOB), "req_unknown", duration=None, comment=None),
            w.service.cancel(person(ALICE), "req_unknown"),
            w.service.revoke(ADMIN, "grt_unknown", reason=None),
        ):
            with pytest.raises(NotVisibleError):
                await attempt

    scenario(server.url, body)


# -- listing -----------------------------------------------------------------------------------


def test_mine_lists_only_my_requests(server: RedisServer) -> None:
    """ALICE's "mine" holds her two requests and not BOB's."""

    async def body(w: World) -> None:
        grafana = await ask(w, ALICE)
        db = await ask(w, ALICE, "db-console")
        await ask(w, BOB)
        page = await w.service.list_requests(person(ALICE), mine=True)
        assert {r.id for r in page.items} == {grafana.id, db.id}

    scenario(server.url, body)


def test_to_review_never_lists_ones_own_request(server: RedisServer) -> None:
    """BOB reviews ALICE's Grafana request, not his own; CAROL sees only the db-console one."""

    async def body(w: World) -> None:
        alice_grafana = await ask(w, ALICE)
        alice_db = await ask(w, ALICE, "db-console")
        await ask(w, BOB)
        bob = await w.service.list_requests(person(BOB), to_review=True)
        carol = await w.service.list_requests(person(CAROL), to_review=True)
        assert [r.id for r in bob.items] == [alice_grafana.id]
        assert [r.id for r in carol.items] == [alice_db.id]

    scenario(server.url, body)


def test_listing_by_application(server: RedisServer) -> None:
    """Filtering by application returns that application's requests only."""

    async def body(w: World) -> None:
        await ask(w, ALICE)
        db = await ask(w, ALICE, "db-console")
        await ask(w, BOB)
        page = await w.service.list_requests(ADMIN, application="db-console")
        assert [r.id for r in page.items] == [db.id]

    scenario(server.url, body)


@pytest.mark.parametrize(
    "apart", [timedelta(0), timedelta(seconds=1)], ids=["same-instant", "apart"]
)
def test_cursor_pagination_returns_every_request_once(
    server: RedisServer, apart: timedelta
) -> None:
    """Seven requests read three at a time come back once each, newest first, and the last
    page says there is no more, whether or not they were made at the same instant."""

    async def body(w: World) -> None:
        made = []
        for n in range(7):
            engineer = Identity(f"u-eng{n}", f"eng{n}@example.com", frozenset({"engineering"}))
            made.append((await ask(w, engineer)).id)
            w.clock.advance(apart)
        seen: list[str] = []
        sizes: list[int] = []
        cursor: str | None = None
        while True:
            page = await w.service.list_requests(ADMIN, cursor=cursor, limit=3)
            seen += [r.id for r in page.items]
            sizes.append(len(page.items))
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(made)
        assert len(seen) == len(set(seen))
        assert sizes[:3] == [3, 3, 1]
        if apart:
            assert seen == made[::-1]

    scenario(server.url, body)


def test_a_cursor_the_service_did_not_issue_is_refused(server: RedisServer) -> None:
    """A made-up cursor is a BadCursorError, not a guess."""

    async def body(w: World) -> None:
        with pytest.raises(BadCursorError):
            await w.service.list_requests(ADMIN, cursor="tomorrow")

    scenario(server.url, body)


def test_sweep_goes_on_past_a_record_that_vanished(server: RedisServer) -> None:
    """A pending id whose record was removed by hand does not stop the sweep for the rest."""

    async def body(w: World) -> tuple[tuple[int, int], int]:
        gone = await ask(w, ALICE)
        await ask(w, ALICE, "db-console")
        await w.client.delete(request_key(gone.id))
        w.clock.advance(timedelta(days=2))
        swept = await w.service.sweep()
        return swept, await w.client.zcard(PENDING_INDEX)

    (requests, _grants), left = scenario(server.url, body)
    assert requests == 1
    assert left == 0


class Lines:
    """Stands in for the service's structlog logger: keeps what it is told."""

    def __init__(self) -> None:
        self.lines: list[dict[str, object]] = []

    def info(self, event: str, **fields: object) -> None:
        self.lines.append({"event": event, **fields})


def test_each_transition_is_one_line_in_the_service_log(
    server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ask, approve (review + approved + grant issued) and revoke appear in the service log
    as structured events, with who and what, but without the typed reason or comment."""

    captured = Lines()
    monkeypatch.setattr(workflow_module, "log", captured)

    async def body(w: World) -> None:
        asked = await ask(w, ALICE, reason="INC-31337 secret-ish text")
        approved = await approve(w, BOB, asked.id)
        assert approved.grant_id is not None
        await w.service.revoke(ADMIN, approved.grant_id, reason="done, typed by a person")

    scenario(server.url, body)
    logged = captured.lines
    names = [line["event"] for line in logged if line.get("application") == "grafana"]
    assert names == [
        "request_submitted",
        "justification_recorded",
        "request_reviewed",
        "request_approved",
        "grant_issued",
        "grant_revoked",
    ]
    submitted = next(line for line in logged if line["event"] == "request_submitted")
    assert submitted["user"] == "alice@example.com"
    assert submitted["request_id"]
    assert "INC-31337" not in repr(logged)
    assert "typed by a person" not in repr(logged)
