"""Retrying after a failure whose outcome the client cannot know: the first attempt's change
reached Redis but its reply was lost (as when a timed-out EXEC still applies), so the first
answer was a 503. The retry with the same key answers with the change as done, not with 409;
without the key, or when the change was someone else's, the 409 stands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from app import bootstrap
from app.adapters.dev.issuer import DevIssuer
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.core.approvals import GrantTransition, RequestTransition
from tests.adapters.api.v1.world import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    DB_REASON,
    ERIN,
    REVIEW_BOT,
    Api,
    problem_of,
    settings_for,
)
from tests.support.redis_server import RedisServer

KEY = {"Idempotency-Key": "0b8f2d6e-5c1a-4e7b-9f30-6a2d8c4e1b57"}


@dataclass
class Faults:
    """Which workflow update fails next, and whether before or after Redis applied it."""

    after: set[str] = field(default_factory=set)
    before: set[str] = field(default_factory=set)

    def check(self, armed: set[str], name: str) -> None:
        """Raise the timeout a lost reply looks like, once, if `name` is armed."""
        if name in armed:
            armed.discard(name)
            raise RedisTimeoutError("Timeout reading from socket")


@pytest.fixture
def faults(tmp_path: Path, server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Faults:
    """The faults the service's workflow store will show."""
    armed = Faults()

    class LossyStore(RedisWorkflowStore):
        """The real store, whose armed update's reply is lost (or which fails before it)."""

        async def update_grant(
            self, grant_id: str, step: Callable[[Any], GrantTransition]
        ) -> GrantTransition:
            armed.check(armed.before, "update_grant")
            result = await super().update_grant(grant_id, step)
            armed.check(armed.after, "update_grant")
            return result

        async def update_request(
            self, request_id: str, step: Callable[[Any], RequestTransition]
        ) -> RequestTransition:
            armed.check(armed.before, "update_request")
            result = await super().update_request(request_id, step)
            armed.check(armed.after, "update_request")
            return result

    monkeypatch.setattr(bootstrap.parts, "RedisWorkflowStore", LossyStore)
    return armed


@pytest.fixture
def lossy(tmp_path: Path, server: RedisServer, faults: Faults) -> Iterator[Api]:
    """The wired service over the lossy store, on an empty Redis."""
    client = redis.Redis.from_url(server.url)
    try:
        client.flushdb()
    finally:
        client.close()
    settings = settings_for(tmp_path, server.url)
    assert bootstrap.prepare_process(settings) is None
    issuer = DevIssuer.load(tmp_path, public_url=settings.server.public_url)
    harness = Api(
        settings=settings, app=bootstrap.build(settings), issuer=issuer, redis_url=server.url
    )
    yield harness
    harness.loop.close()


def test_a_revocation_whose_reply_was_lost_is_done_on_retry(lossy: Api, faults: Faults) -> None:
    """BOB's revocation applied but he got 503; his retry with the key answers 200."""
    grant = lossy.granted(ALICE)
    path = f"/api/v1/grants/{grant['id']}"
    faults.after.add("update_grant")
    first = lossy.delete(path, who=BOB, headers=KEY)
    assert problem_of(first)["code"] == "store-unavailable"
    retry = lossy.delete(path, who=BOB, headers=KEY)
    assert retry.status_code == 200, retry.text
    assert (retry.json()["status"], retry.json()["revoked_by"]) == ("revoked", BOB.email)
    again = lossy.delete(path, who=BOB, headers=KEY)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == retry.content


def test_without_the_key_the_retry_is_a_conflict(lossy: Api, faults: Faults) -> None:
    """Only a keyed retry can be told from a second revocation: without it, 409."""
    grant = lossy.granted(ALICE)
    path = f"/api/v1/grants/{grant['id']}"
    faults.after.add("update_grant")
    assert lossy.delete(path, who=BOB).status_code == 503
    retry = lossy.delete(path, who=BOB)
    assert problem_of(retry)["code"] == "grant-not-active"


def test_someone_elses_change_is_still_a_conflict(lossy: Api, faults: Faults) -> None:
    """BOB's attempt failed before it applied and ERIN revoked meanwhile: his retry is 409."""
    grant = lossy.granted(ALICE)
    path = f"/api/v1/grants/{grant['id']}"
    faults.before.add("update_grant")
    assert lossy.delete(path, who=BOB, headers=KEY).status_code == 503
    assert lossy.delete(path, who=ERIN).status_code == 200
    retry = lossy.delete(path, who=BOB, headers=KEY)
    assert problem_of(retry)["code"] == "grant-not-active"


def test_an_approval_whose_reply_was_lost_is_done_on_retry(lossy: Api, faults: Faults) -> None:
    """The approval completed the request but BOB got 503: his keyed retry answers 200."""
    request = lossy.ask(ALICE)
    path = f"/api/v1/access-requests/{request['id']}/approve"
    faults.after.add("update_request")
    assert lossy.post(path, who=BOB, headers=KEY).status_code == 503
    retry = lossy.post(path, who=BOB, headers=KEY)
    assert retry.status_code == 200, retry.text
    assert retry.json()["status"] == "approved"


def test_a_token_review_whose_reply_was_lost_is_done_on_retry(lossy: Api, faults: Faults) -> None:
    """The review bot's deny for CAROL applied; its keyed retry for her answers 200."""
    request = lossy.ask(ALICE, "db-console", DB_REASON)
    path = f"/api/v1/access-requests/{request['id']}/deny"
    body = {"comment": "not during the freeze"}
    faults.after.add("update_request")
    first = lossy.post(path, service=REVIEW_BOT, acting_for=CAROL, headers=KEY, json=body)
    assert first.status_code == 503
    retry = lossy.post(path, service=REVIEW_BOT, acting_for=CAROL, headers=KEY, json=body)
    assert retry.status_code == 200, retry.text
    assert retry.json()["status"] == "denied"


def test_another_approvers_decision_is_still_a_conflict(lossy: Api, faults: Faults) -> None:
    """CAROL's approval failed before it applied and DAVE denied: her retry is 409."""
    request = lossy.ask(ALICE, "db-console", DB_REASON)
    path = f"/api/v1/access-requests/{request['id']}/approve"
    faults.before.add("update_request")
    assert lossy.post(path, who=CAROL, headers=KEY).status_code == 503
    denied = lossy.post(
        f"/api/v1/access-requests/{request['id']}/deny", who=DAVE, json={"comment": "no"}
    )
    assert denied.status_code == 200
    retry = lossy.post(path, who=CAROL, headers=KEY)
    assert problem_of(retry)["code"] == "request-not-pending"


def test_a_cancellation_whose_reply_was_lost_is_done_on_retry(lossy: Api, faults: Faults) -> None:
    """ALICE's cancellation applied but she got 503: her keyed retry answers 200."""
    request = lossy.ask(ALICE)
    path = f"/api/v1/access-requests/{request['id']}/cancel"
    faults.after.add("update_request")
    assert lossy.post(path, who=ALICE, headers=KEY).status_code == 503
    retry = lossy.post(path, who=ALICE, headers=KEY)
    assert retry.status_code == 200, retry.text
    assert retry.json()["status"] == "cancelled"
