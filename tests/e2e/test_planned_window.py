"""A planned window end to end through nginx: approved before it begins, the grant keeps ALICE
out until its start second, lets her in from then, and shuts at its end (the service's grant
cache in between)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.e2e.test_approval_story import APP, api, cancel_open_request
from tests.support.backend import Backend
from tests.support.gate import Gate
from tests.support.personas import Tokens
from tests.support.proxies import ProxyPool

pytestmark = pytest.mark.e2e
#: Seconds from now to the window's start, and its length: long enough to ask and approve first
#: on a loaded machine, short enough to wait for.
LEAD = 4
LENGTH = 3
DEADLINE = 30.0


@pytest.fixture
def nginx(proxy_pool: ProxyPool, backend: Backend) -> Iterator[Gate]:
    """A client for the nginx configuration."""
    client = Gate(proxy_pool.get("nginx"), backend)
    yield client
    client.close()


def stamp(epoch: int) -> str:
    """RFC 3339 in UTC."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def watch(gate: Gate, tokens: Tokens, *, until: float) -> list[tuple[float, float, int]]:
    """ALICE opens the application again and again until `until` (epoch seconds): each try as
    (sent, answered, status)."""
    seen = []
    while time.time() < until:
        sent = time.time()
        status = gate.get(APP, "/", token=tokens.alice).status
        seen.append((sent, time.time(), status))
    return seen


def test_a_planned_window_opens_and_closes_to_the_second(nginx: Gate, tokens: Tokens) -> None:
    """Every answer wholly before the start is a refusal, every one wholly inside the window
    is 200, and every one wholly after the end is a refusal."""
    cancel_open_request(nginx, tokens)
    start = math.ceil(time.time()) + LEAD
    end = start + LENGTH
    asked = api(
        nginx,
        "POST",
        "/api/v1/access-requests",
        tokens.alice,
        {
            "application": "approval",
            "justification": "CHG-77 planned maintenance",
            "duration": f"{LENGTH}s",
            "starts_at": stamp(start),
        },
    )
    assert asked.status == 201, asked.response.text
    request_id = asked.response.json()["request"]["id"]
    approved = api(nginx, "POST", f"/api/v1/access-requests/{request_id}/approve", tokens.bob)
    assert approved.status == 200, approved.response.text
    assert time.time() < start, "asking and approving took longer than the lead"
    seen = watch(nginx, tokens, until=min(end + 2, time.time() + DEADLINE))
    before = [status for sent, answered, status in seen if answered < start]
    inside = [status for sent, answered, status in seen if sent >= start and answered < end]
    after = [status for sent, answered, status in seen if sent >= end]
    assert before, "no answer before the start"
    assert inside, "no answer inside the window"
    assert after, "no answer after the end"
    assert set(before) == {403}  # an API client: 403 with the request page's URL
    assert set(inside) == {200}
    assert set(after) == {403}
