"""The interactivity endpoint's gate: size first, then Slack's signature and its timestamp on
the raw body, then the payload. Anything refused is never acted on: Slack is not asked who
pressed, and the request stays as it was."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.adapters.slack.routes import MAX_BODY
from app.adapters.slack.signature import REPLAY_WINDOW, sign, verify
from app.core.approvals import RequestStatus
from app.core.notify.slack import APPROVE_ACTION, approve_value
from app.core.policy.policy_set import PolicySet
from tests.adapters.slack.harness import BOB, SLACK_USERS, Replica, compiled, replica
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.slack import SIGNING_SECRET, StandInSlack, button_press, form, signed_headers

SECRET = SIGNING_SECRET.encode()
NOW = 1_714_990_000


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


@pytest.fixture
def slack() -> Iterator[StandInSlack]:
    """The stand-in Slack."""
    stand_in = StandInSlack(users=dict(SLACK_USERS)).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def policies(tmp_path: Path) -> PolicySet:
    """The policies of the harness."""
    return compiled(tmp_path)


def test_a_signature_within_the_window_is_accepted() -> None:
    """Slack's v0 HMAC over `v0:<ts>:<body>` verifies up to 5 minutes either way."""
    body = b"payload=%7B%7D"
    for skew in (0, REPLAY_WINDOW, -REPLAY_WINDOW):
        signature = sign(SECRET, NOW + skew, body)
        assert verify(SECRET, timestamp=str(NOW + skew), signature=signature, body=body, now=NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature_of", "secret"),
    [
        (NOW - REPLAY_WINDOW - 1, b"body", SECRET),  # stale: a replay
        (NOW + REPLAY_WINDOW + 1, b"body", SECRET),  # from the future
        (NOW, b"another body", SECRET),  # not this body
        (NOW, b"body", b"another secret"),  # not our app
    ],
    ids=["stale", "future", "other-body", "other-secret"],
)
def test_a_forged_or_stale_signature_is_refused(
    timestamp: int, signature_of: bytes, secret: bytes
) -> None:
    """A stale, future, other-body or other-secret signature does not verify."""
    signature = sign(secret, timestamp, signature_of)
    assert not verify(SECRET, timestamp=str(timestamp), signature=signature, body=b"body", now=NOW)


@pytest.mark.parametrize("timestamp", ["", "abc", "1e9", "-5", "１７１４９９００００"])
def test_a_malformed_timestamp_is_refused(timestamp: str) -> None:
    """Only plain ASCII digits are a timestamp."""
    signature = sign(SECRET, NOW, b"body")
    assert not verify(SECRET, timestamp=timestamp, signature=signature, body=b"body", now=NOW)


def _press(slack: StandInSlack, request_id: str) -> bytes:
    return form(
        button_press(
            BOB,
            action_id=f"{APPROVE_ACTION}_0",
            value=approve_value(request_id, timedelta(hours=1)),
            response_url=slack.response_url(BOB),
        )
    )


async def _unchanged(r: Replica, request_id: str, slack: StandInSlack) -> None:
    stored = await r.world.store.load_request(request_id)
    assert stored is not None
    assert stored.status is RequestStatus.PENDING
    assert stored.reviews == ()
    assert slack.lookups(BOB) == 0
    assert slack.posted_to(BOB) == []


@pytest.mark.parametrize(
    "forge",
    ["wrong-secret", "stale", "no-signature", "body-changed"],
)
def test_the_endpoint_refuses_forged_and_stale_requests(
    server: RedisServer, slack: StandInSlack, policies: PolicySet, forge: str
) -> None:
    """401 for a forged, stale, missing or mismatched signature; nothing is acted on."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            request_id = await r.ask()
            body = _press(slack, request_id)
            headers = signed_headers(body)
            if forge == "wrong-secret":
                headers = signed_headers(body, secret="not-the-secret")
            elif forge == "stale":
                headers = signed_headers(body, at=int(time.time()) - REPLAY_WINDOW - 60)
            elif forge == "no-signature":
                headers = {"Content-Type": "application/x-www-form-urlencoded"}
            else:
                body = body.replace(b"U0BOB", b"U0CAROL")
            answer = await r.post(body, headers)
            assert answer.status_code == 401
            await _unchanged(r, request_id, slack)

    asyncio.run(story())


def test_an_oversized_body_is_refused_before_its_signature(
    server: RedisServer, slack: StandInSlack, policies: PolicySet
) -> None:
    """A body over the limit is 413, even correctly signed, and is not acted on."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            request_id = await r.ask()
            body = _press(slack, request_id) + b"&padding=" + b"x" * MAX_BODY
            answer = await r.post(body, signed_headers(body))
            assert answer.status_code == 413
            await _unchanged(r, request_id, slack)

    asyncio.run(story())


def test_a_signed_body_that_is_no_payload_is_a_bad_request(
    server: RedisServer, slack: StandInSlack, policies: PolicySet
) -> None:
    """Correctly signed, but not a form with one JSON payload: 400."""

    async def story() -> None:
        async with replica(server.url, slack, policies) as r:
            for body in (b"payload=not-json", b"nothing=here", b"payload=%5B%5D"):
                answer = await r.post(body, signed_headers(body))
                assert answer.status_code == 400, body

    asyncio.run(story())
