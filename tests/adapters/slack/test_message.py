"""The message of a new request on an interactive Slack channel: Approve per duration the
policy offers and Deny; on a step-up policy, Approve leads to the review page instead.
Sent through a real receiver on loopback, from a real request in Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from app.adapters.notify.hooks import http_client
from app.adapters.slack.sender import interactive_senders
from app.config.channels import SlackChannel
from app.core.notify import ChannelKind, Delivery, Topic, Trigger, build_notice, slack_message
from app.core.notify.slack import APPROVE_ACTION, DENY_ACTION, REVIEW_BLOCK
from app.core.policy.policy_set import PolicySet
from tests.adapters.slack.harness import LINKS, PUBLIC_URL, Replica, compiled, replica
from tests.core.notify.notices import notice_of
from tests.support.receivers import HttpReceiver
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.slack import StandInSlack
from tests.support.workflow import ALICE, person

HOUR = 3600


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    """Where the channel's incoming webhook posts."""
    hook = HttpReceiver().start()
    yield hook
    hook.stop()


@pytest.fixture
def slack() -> Iterator[StandInSlack]:
    """The stand-in Slack (the replica's endpoint needs one; these tests only send)."""
    stand_in = StandInSlack().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def policies(tmp_path: Path) -> PolicySet:
    """The policies of the harness."""
    return compiled(tmp_path)


async def sent(r: Replica, request_id: str, receiver: HttpReceiver, policies: PolicySet) -> Any:
    """Send the "new request" notice of `request_id` on an interactive channel; the body."""
    request = await r.world.store.load_request(request_id)
    assert request is not None
    trigger = Trigger(
        topic=Topic.REQUEST_SUBMITTED,
        at=datetime.now(UTC),
        application=request.application,
        user=request.user,
        actor=request.user,
        request_id=request.id,
    )
    notice = build_notice(
        trigger, request=request, grant=None, application_name=None, public_url=PUBLIC_URL
    )
    async with http_client(5.0) as client:
        channel = SlackChannel(name="sre", url=SecretStr(receiver.url), interactive=True)
        build = interactive_senders(
            client, records=r.world.store, policies=lambda: policies, links=LINKS
        )
        sender = build(channel)
        await sender.send(notice, Delivery("slack", ChannelKind.SLACK), delivery_id="1-0")
    (body,) = receiver.bodies()
    return body


def controls(body: Any) -> list[dict[str, Any]]:
    """The elements of the review block."""
    (block,) = [b for b in body["blocks"] if b.get("block_id") == REVIEW_BLOCK]
    return list(block["elements"])


def test_a_new_request_offers_the_policy_durations_and_deny(
    server: RedisServer, slack: StandInSlack, receiver: HttpReceiver, policies: PolicySet
) -> None:
    """ALICE asks for 2h: Approve 1h (default), 2h (asked) and 8h (the maximum), then Deny."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            request_id = await r.ask(who=ALICE, duration=timedelta(hours=2))
            elements = controls(await sent(r, request_id, receiver, policies))
            labels = [e["text"]["text"] for e in elements]
            assert labels == ["Approve 1h", "Approve 2h", "Approve 8h", "Deny"]
            assert [e["value"] for e in elements[:3]] == [
                f"{request_id}:{HOUR}",
                f"{request_id}:{2 * HOUR}",
                f"{request_id}:{8 * HOUR}",
            ]
            assert all(e["action_id"].startswith(APPROVE_ACTION) for e in elements[:3])
            assert len({e["action_id"] for e in elements}) == len(elements)
            assert elements[3]["action_id"] == DENY_ACTION

    asyncio.run(story())


def test_a_step_up_policy_links_approve_to_the_review_page(
    server: RedisServer, slack: StandInSlack, receiver: HttpReceiver, policies: PolicySet
) -> None:
    """When the policy needs a fresh MFA sign-in, Approve says so and opens the step-up
    sign-in that leads to the review page; Deny (which needs none) stays a button."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            request_id = await r.ask("db")
            approve, deny = controls(await sent(r, request_id, receiver, policies))
            assert "sign-in" in approve["text"]["text"]
            assert "value" not in approve
            assert approve["url"].startswith(f"{PUBLIC_URL}/login?rd=")
            assert f"%2Finbox%2F{request_id}" in approve["url"]
            assert "mfa=1" in approve["url"]
            assert deny["action_id"] == DENY_ACTION

    asyncio.run(story())


def test_a_request_decided_before_sending_gets_no_buttons(
    server: RedisServer, slack: StandInSlack, receiver: HttpReceiver, policies: PolicySet
) -> None:
    """A request cancelled before its message goes out is shown without controls."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            request_id = await r.ask()
            await r.world.service.cancel(person(ALICE), request_id)
            body = await sent(r, request_id, receiver, policies)
            assert all(b.get("block_id") != REVIEW_BLOCK for b in body["blocks"])

    asyncio.run(story())


def test_a_plain_slack_message_has_no_controls() -> None:
    """Without review controls (a channel that is not interactive) nothing changes."""
    body = slack_message(notice_of(Topic.REQUEST_SUBMITTED))
    assert all(b.get("block_id") != REVIEW_BLOCK for b in body["blocks"])
