"""The pages and the API never disagree on who may review a request: for anyone and any
request, the review forms the pages offer, the API's "to review" listing, and a denial sent
through the service all give the same answer (they ask core.approvals.visibility).

The service runs over a real Redis with the shipped policies: Grafana's requests are reviewed
by SRE leads (BOB) or the CTO, the database console's by DBA leads (CAROL, DAVE) or DAVE by
e-mail; ROOT oversees as an admin and approves nothing; the twins share an e-mail with ALICE or
BOB at another issuer.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.adapters.step_up import StepUpLinks
from app.adapters.ui.deps import Ui
from app.adapters.ui.render import Pages
from app.adapters.ui.session import Sessions, Viewer
from app.core.approvals import (
    AccessRequest,
    ApprovalError,
    Grant,
    Requester,
    RequestStatus,
    RequestTransition,
    Scope,
    submit,
)
from app.core.approvals.requesting import resolve
from app.core.context import Identity, Signals
from app.services.errors import NotVisibleError, ScopeError
from app.services.principal import SCOPES, Principal
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import (
    ALICE,
    BOB,
    CAROL,
    CTO,
    DAVE,
    DB_REASON,
    GRAFANA_REASON,
    MALLORY,
    ROOT,
    World,
    at_desk,
    world,
)

PUBLIC_URL = "http://auth.example.com:8000"
REASONS = {"grafana": GRAFANA_REASON, "db-console": DB_REASON}
TWINS = tuple(
    dataclasses.replace(who, subject="twin", issuer="https://other.example", email=who.email)
    for who in (ALICE, BOB)
)
APPROVERS = (BOB, CAROL, DAVE, CTO)
PEOPLE = (ALICE, *APPROVERS, MALLORY, ROOT, *TWINS)


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every example empties it first."""
    return redis_server_factory()


async def _nobody(headers: Mapping[str, str]) -> tuple[Identity | None, str | None]:
    """Nobody signs in through these pages: the viewer is made by the test."""
    del headers
    return None, "no-token"


def _no_signals(peer: str, headers: Mapping[str, str], identity: Identity | None) -> Signals:
    """Deciding what to offer reads no proxy signals."""
    raise AssertionError((peer, headers, identity))


def pages_of(w: World) -> Ui:
    """The pages' dependencies, over the same service and policies as the API."""
    return Ui(
        approvals=w.service,
        policies=lambda: w.policies,
        sessions=Sessions(
            identify=_nobody,
            cookie_name="countersign_session",
            assertion_header=None,
            max_token_bytes=8192,
            admin_groups=frozenset({"admins"}),
            login_url=f"{PUBLIC_URL}/login",
            public_url=PUBLIC_URL,
        ),
        signals=_no_signals,
        is_safe_redirect=lambda _url: False,
        pages=Pages(base_path="", clock=w.clock),
        clock=w.clock,
        step_up=StepUpLinks(login_url=f"{PUBLIC_URL}/login", public_url=PUBLIC_URL),
    )


@dataclasses.dataclass(frozen=True)
class Case:
    """Who asked for what, what became of it, and who now looks at it."""

    requester: Identity
    application: str
    status: RequestStatus
    version: str  # "current", "edited" (another fingerprint) or "none"
    principal: Principal


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """Anyone looking at anyone's request; the looker is often the requester or an approver
    and the request often still pending, where the answers are most likely to differ."""
    requester = draw(st.sampled_from((ALICE, CAROL, MALLORY, *TWINS)))
    looker = draw(st.none() | st.just(requester) | st.sampled_from(APPROVERS + PEOPLE))
    principal = Principal(
        identity=looker,
        token=draw(st.just("st-ci-bot") if looker is None else st.none() | st.just("st-ci-bot")),
        scopes=SCOPES,
        is_admin=draw(st.booleans()),
    )
    pending = st.just(RequestStatus.PENDING)
    return Case(
        requester=requester,
        application=draw(st.sampled_from(["grafana", "db-console"])),
        status=draw(pending | pending | st.sampled_from(RequestStatus)),
        version=draw(st.sampled_from(["current", "current", "edited", "none"])),
        principal=principal,
    )


def requested(w: World, case: Case) -> RequestTransition:
    """The request `case` describes, asked at the world's clock under the approval policy,
    with the events of its submission."""
    app = w.policies.applications[case.application]
    policy = next(p for p in app.policies if p.approval is not None)
    submitted = submit(
        request_id="req_agreement",
        application=app.id,
        policy=policy,
        requester=Requester.from_context(at_desk(case.requester, case.application)),
        justification=REASONS[case.application],
        requested_duration=None,
        now=w.clock(),
    )
    fingerprint = {
        "current": submitted.request.policy_fingerprint,
        "edited": "0" * 64,
        "none": None,
    }
    request = dataclasses.replace(submitted.request, policy_fingerprint=fingerprint[case.version])
    if case.status.terminal:
        grant_id = "grt_agreement" if case.status is RequestStatus.APPROVED else None
        request = resolve(request, case.status, at=w.clock(), by="someone", grant_id=grant_id)
    return RequestTransition(request, submitted.events)


async def store(w: World, transition: RequestTransition) -> None:
    """Save the request as it is, through the store's own transition."""
    request = transition.request
    person = request.requester.person
    assert person is not None

    def step(_open: AccessRequest | None, _held: Grant | None) -> RequestTransition:
        return transition

    await w.store.open_request(person=person, scope=Scope(request.application, "x"), step=step)


async def judged(url: str, case: Case) -> tuple[bool | None, bool, bool]:
    """(the pages offer a review, the API lists it to review, a denial goes through)."""
    async with world(url) as w:
        transition = requested(w, case)
        await store(w, transition)
        request = transition.request
        w.clock.advance(timedelta(minutes=1))
        principal = case.principal
        offered = None
        if principal.identity is not None and principal.token is None:
            viewer = Viewer(principal.identity, principal, csrf="0" * 64, origin=PUBLIC_URL)
            offered = pages_of(w).may_review(viewer, request)
        inbox = await w.service.list_requests(principal, to_review=True)
        listed = request.id in {r.id for r in inbox.items}
        try:
            await w.service.deny(principal, request.id, comment="not now")
        except (ApprovalError, NotVisibleError, ScopeError):
            return offered, listed, False
        return offered, listed, True


@settings(max_examples=100, deadline=None)
@given(case=cases())
def test_pages_inbox_and_review_agree_on_who_may_review(server: RedisServer, case: Case) -> None:
    """Whoever looks at whatever request: the pages offer the review forms iff the API lists
    the request to review iff the review is accepted."""
    offered, listed, accepted = asyncio.run(judged(server.url, case))
    assert listed is accepted
    if offered is not None:
        assert offered is listed


def test_bobs_review_of_alices_grafana_request_is_offered_listed_and_accepted(
    server: RedisServer,
) -> None:
    """The property above is not vacuous: BOB, SRE lead, is offered ALICE's request, finds it
    in his inbox and may deny it; ALICE is offered none of it."""
    bob = Case(ALICE, "grafana", RequestStatus.PENDING, "current", Principal(identity=BOB))
    alice = dataclasses.replace(bob, principal=Principal(identity=ALICE))
    assert asyncio.run(judged(server.url, bob)) == (True, True, True)
    assert asyncio.run(judged(server.url, alice)) == (False, False, False)
