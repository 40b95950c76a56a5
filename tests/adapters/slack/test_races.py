"""Two approvers pressing Approve at the same moment, on two replicas sharing one Redis: the
request is decided once, one grant is issued, and the message tells one outcome."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.core.approvals import RequestStatus
from app.core.context import Identity
from app.core.notify.slack import APPROVE_ACTION, approve_value
from app.core.policy.policy_set import PolicySet
from tests.adapters.slack.harness import BOB, CAROL, SLACK_USERS, compiled, replica
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.slack import StandInSlack, button_press
from tests.support.workflow import audit_events

ROUNDS = 3


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module."""
    return redis_server_factory()


@pytest.fixture
def slack() -> Iterator[StandInSlack]:
    """The stand-in Slack."""
    stand_in = StandInSlack(users=dict(SLACK_USERS)).start()
    yield stand_in
    stand_in.stop()


def engineer(n: int) -> Identity:
    """An engineer who asks (a new one each round: a granted one would not ask again)."""
    return Identity(subject=f"u-eng{n}", email=f"eng{n}@example.com", issuer="https://idp")


def press_on_own_replica(
    server: RedisServer,
    slack: StandInSlack,
    policies: PolicySet,
    *,
    user: str,
    request_id: str,
    start: threading.Barrier,
) -> None:
    """In a thread with its own event loop and Redis client: wait for the other presser, then
    press Approve."""

    async def go() -> None:
        async with replica(server.url, slack, policies, flush=False) as r:
            press = button_press(
                user,
                action_id=f"{APPROVE_ACTION}_0",
                value=approve_value(request_id, timedelta(hours=1)),
                response_url=slack.response_url(f"{request_id}-{user}"),
            )
            await asyncio.to_thread(start.wait, 30)
            assert (await r.interact(press)).status_code == 200

    asyncio.run(go())


def test_two_approvers_pressing_at_once_make_one_outcome(
    server: RedisServer, slack: StandInSlack, tmp_path: Path
) -> None:
    """BOB and CAROL approve at once from two replicas: one approval decides, one grant,
    one request_approved entry; the other presser is told it was already decided."""
    policies = compiled(tmp_path)
    for n in range(ROUNDS):

        async def ask(n: int = n) -> str:
            async with replica(server.url, slack, policies, flush=(n == 0)) as r:
                return await r.ask(who=engineer(n))

        request_id = asyncio.run(ask())
        start = threading.Barrier(2)
        threads = [
            threading.Thread(
                target=press_on_own_replica,
                args=(server, slack, policies),
                kwargs={"user": who, "request_id": request_id, "start": start},
            )
            for who in (BOB, CAROL)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
            assert not thread.is_alive()

        async def outcome(request_id: str = request_id) -> None:
            async with replica(server.url, slack, policies, flush=False) as r:
                stored = await r.world.store.load_request(request_id)
                assert stored is not None
                assert stored.status is RequestStatus.APPROVED
                assert len(stored.reviews) == 1
                events = [
                    e
                    for e in await audit_events(r.world.client)
                    if e.get("request_id") == request_id
                ]
                kinds = [e["type"] for e in events]
                assert kinds.count("request_approved") == 1
                assert kinds.count("request_reviewed") == 1
                grants = [
                    e
                    for e in await audit_events(r.world.client)
                    if e["type"] == "grant_issued" and e.get("request_id") == request_id
                ]
                assert len(grants) == 1

        asyncio.run(outcome())
        said = [slack.posted_to(f"{request_id}-{who}") for who in (BOB, CAROL)]
        assert sorted(len(s) for s in said) == [1, 1]
        replaced = [m for (m,) in said if m.get("replace_original") is True]
        told = [m for (m,) in said if m.get("response_type") == "ephemeral"]
        assert len(replaced) == 1
        assert len(told) == 1
        assert "*Approved*" in str(replaced[0]["blocks"])
        assert told[0]["text"] == "This request was already decided."
