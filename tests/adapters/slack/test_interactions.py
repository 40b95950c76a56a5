"""Approving and denying from Slack, end to end on one side: signed interactions into the
endpoint, the review through the approval service on a real Redis, and the stand-in Slack
(real HTTP on loopback) asked who pressed and told the outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.core.approvals import RequestStatus
from app.core.notify.slack import APPROVE_ACTION, DENY_ACTION, approve_value
from app.core.policy.policy_set import PolicySet
from tests.adapters.slack.harness import (
    BOB,
    CAROL,
    DAVE,
    MALLORY,
    NOMAIL,
    SLACK_USERS,
    UNCONFIRMED,
    Replica,
    compiled,
    replica,
)
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.slack import TEAM, StandInSlack, button_press, modal_submit
from tests.support.workflow import BOB as BOB_SIGNED_IN
from tests.support.workflow import audit_events

HOUR = 3600


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


@pytest.fixture
def slack() -> Iterator[StandInSlack]:
    """The stand-in Slack, with the users of the harness."""
    stand_in = StandInSlack(users=dict(SLACK_USERS)).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def policies(tmp_path: Path) -> PolicySet:
    """The policies of the harness."""
    return compiled(tmp_path)


def approve(user: str, request_id: str, slack: StandInSlack, seconds: int = HOUR) -> Any:
    """`user` presses "Approve" (for `seconds`) on the message of `request_id`."""
    return button_press(
        user,
        action_id=f"{APPROVE_ACTION}_0",
        value=approve_value(request_id, _seconds(seconds)),
        response_url=slack.response_url(user),
    )


def _seconds(seconds: int) -> timedelta:
    return timedelta(seconds=seconds)


def run(coro: Any) -> Any:
    """Run one test's story on a fresh event loop."""
    return asyncio.run(coro)


async def reviews_in_audit(r: Replica) -> list[dict[str, Any]]:
    """The request_reviewed audit events, oldest first."""
    return [e for e in await audit_events(r.world.client) if e["type"] == "request_reviewed"]


def test_an_approver_approves_from_slack_and_the_message_says_so(
    server: RedisServer, slack: StandInSlack, policies: PolicySet
) -> None:
    """BOB's press approves ALICE's request for the chosen time; the message is replaced for
    the channel with the outcome, and the audit entry says the review came through Slack."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            request_id = await r.ask()
            answer = await r.interact(approve(BOB, request_id, slack, seconds=4 * HOUR))
            assert answer.status_code == 200
            stored = await r.world.store.load_request(request_id)
            assert stored is not None
            assert stored.status is RequestStatus.APPROVED
            assert stored.resolved_by == "bob@example.com"
            grant = await r.world.store.load_grant(stored.grant_id or "")
            assert grant is not None
            assert grant.expires_at - grant.starts_at == _seconds(4 * HOUR)
            (review,) = await reviews_in_audit(r)
            assert review["actor"] == "bob@example.com"
            assert review["data"]["via_token"] == f"slack:{TEAM}"
            (message,) = slack.posted_to(BOB)
            assert message["replace_original"] is True
            text = str(message["blocks"])
            assert "*Approved* by bob@example.com for 4h" in text
            assert APPROVE_ACTION not in text  # no more buttons once decided

    run(story())


def test_a_slack_user_without_an_email_is_refused(
    server: RedisServer, slack: StandInSlack, policies: PolicySet
) -> None:
    """A Slack user whose profile has no e-mail is nobody: told so, and nothing changes."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            request_id = await r.ask()
            await r.interact(approve(NOMAIL, request_id, slack))
            stored = await r.world.store.load_request(request_id)
            assert stored is not None
            assert stored.status is RequestStatus.PENDING
            assert stored.reviews == ()
            (told,) = slack.posted_to(NOMAIL)
            assert told["response_type"] == "ephemeral"
            assert "e-mail" in told["text"]

    run(story())


def test_a_slack_user_with_an_unconfirmed_email_is_refused(
    server: RedisServer, slack: StandInSlack, policies: PolicySet
) -> None:
    """An e-mail Slack reports as unconfirmed is not believed, even an approver's."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            request_id = await r.ask()
            await r.interact(approve(UNCONFIRMED, request_id, slack))
            stored = await r.world.store.load_request(request_id)
            assert stored is not None
            assert stored.reviews == ()
            (told,) = slack.posted_to(UNCONFIRMED)
            assert "not confirmed" in told["text"]

    run(story())


def test_a_slack_user_unknown_to_slack_is_refused(
    server: RedisServer, slack: StandInSlack, policies: PolicySet
) -> None:
    """A user id users.info does not know (user_not_found) maps to nobody."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            request_id = await r.ask()
            await r.interact(approve("U0GHOST", request_id, slack))
            stored = await r.world.store.load_request(request_id)
            assert stored is not None
            assert stored.reviews == ()
            (told,) = slack.posted_to("U0GHOST")
            assert told["response_type"] == "ephemeral"
            assert told["text"] == "Countersign's Slack app cannot see your Slack account."

    run(story())


def test_the_payload_user_name_is_never_trusted(
    server: RedisServer, slack: StandInSlack, policies: PolicySet
) -> None:
    """MALLORY's press names her "bob" in the payload; only her id counts, and she approves
    nothing."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            request_id = await r.ask()
            payload = approve(MALLORY, request_id, slack)
            payload["user"].update(username="bob", name="bob@example.com")
            await r.interact(payload)
            stored = await r.world.store.load_request(request_id)
            assert stored is not None
            assert stored.reviews == ()
            (told,) = slack.posted_to(MALLORY)
            assert "may not review" in told["text"]

    run(story())


def test_the_requester_cannot_approve_their_own_request_from_slack(
    server: RedisServer, slack: StandInSlack, policies: PolicySet
) -> None:
    """BOB, an approver, asks for Grafana himself; through Slack (another issuer) he is still
    BOB by his e-mail, and his own approval is refused as self-approval."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            request_id = await r.ask(who=BOB_SIGNED_IN)
            await r.interact(approve(BOB, request_id, slack))
            stored = await r.world.store.load_request(request_id)
            assert stored is not None
            assert stored.status is RequestStatus.PENDING
            assert stored.reviews == ()
            (told,) = slack.posted_to(BOB)
            assert told["text"] == "You cannot review your own request."

    run(story())


def test_one_approval_of_two_keeps_the_buttons_and_shows_progress(
    server: RedisServer, slack: StandInSlack, policies: PolicySet
) -> None:
    """Under a two-approver quorum BOB's approval is counted, the request stays pending, and
    the message shows who approved so far with the buttons still there; CAROL completes it."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            request_id = await r.ask("reports")
            await r.interact(approve(BOB, request_id, slack))
            stored = await r.world.store.load_request(request_id)
            assert stored is not None
            assert stored.status is RequestStatus.PENDING
            (progress,) = slack.posted_to(BOB)
            text = str(progress["blocks"])
            assert "approved so far by bob@example.com" in text
            assert APPROVE_ACTION in text
            await r.interact(approve(CAROL, request_id, slack))
            stored = await r.world.store.load_request(request_id)
            assert stored is not None
            assert stored.status is RequestStatus.APPROVED
            assert "*Approved* by carol@example.com" in str(slack.posted_to(CAROL)[0]["blocks"])

    run(story())


def test_deny_opens_a_modal_and_its_reason_denies_the_request(
    server: RedisServer, slack: StandInSlack, policies: PolicySet
) -> None:
    """Deny opens a modal (views.open, with the bot token); submitting it with a reason
    denies the request with that reason, and the message says so."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            request_id = await r.ask()
            press = button_press(
                CAROL,
                action_id=DENY_ACTION,
                value=request_id,
                response_url=slack.response_url("message"),
            )
            assert (await r.interact(press)).status_code == 200
            (opened,) = slack.views
            assert opened["trigger_id"] == f"trigger-{CAROL}"
            stored = await r.world.store.load_request(request_id)
            assert stored is not None
            assert stored.status is RequestStatus.PENDING  # nothing decided by opening it
            submitted = await r.interact(
                modal_submit(CAROL, opened["view"], "Use the read replica <!channel>")
            )
            assert submitted.status_code == 200
            assert submitted.content == b""  # closes the modal
            stored = await r.world.store.load_request(request_id)
            assert stored is not None
            assert stored.status is RequestStatus.DENIED
            assert stored.resolution_comment == "Use the read replica <!channel>"
            (message,) = slack.posted_to("message")
            text = str(message["blocks"])
            assert "*Denied* by carol@example.com" in text
            assert "&lt;!channel&gt;" in text
            assert "<!channel>" not in text

    run(story())


def test_a_step_up_policy_is_not_approved_from_slack(
    server: RedisServer, slack: StandInSlack, policies: PolicySet
) -> None:
    """Slack cannot show a fresh MFA sign-in: a press on an approve value of a step-up
    policy is refused with the sign-in link to the review page, and nothing is recorded."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            request_id = await r.ask("db")
            await r.interact(approve(DAVE, request_id, slack))
            stored = await r.world.store.load_request(request_id)
            assert stored is not None
            assert stored.reviews == ()
            (told,) = slack.posted_to(DAVE)
            assert told["response_type"] == "ephemeral"
            assert "fresh sign-in" in told["text"]
            assert "/login?rd=" in told["text"]
            assert "mfa=1" in told["text"]

    run(story())


def test_users_info_is_asked_once_per_user_while_cached(
    server: RedisServer, slack: StandInSlack, policies: PolicySet
) -> None:
    """Two presses by BOB within the cache TTL make one users.info call."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            first, second = await r.ask("grafana"), await r.ask("reports")
            await r.interact(approve(BOB, first, slack))
            await r.interact(approve(BOB, second, slack))
            assert slack.lookups(BOB) == 1
            assert slack.unauthorised == 0

    run(story())
