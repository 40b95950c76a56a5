"""The second opinion end to end through nginx: ask, approve, use, revoke, expire."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.support.backend import Backend
from tests.support.gate import Gate, Sent
from tests.support.personas import Tokens
from tests.support.proxies import PUBLIC_HOST, ProxyPool

pytestmark = pytest.mark.e2e
APP = "approval.example.com"


@pytest.fixture
def nginx(proxy_pool: ProxyPool, backend: Backend) -> Iterator[Gate]:
    """A client for the nginx configuration."""
    client = Gate(proxy_pool.get("nginx"), backend)
    yield client
    client.close()


def api(
    gate: Gate, method: str, path: str, token: str, body: dict[str, object] | None = None
) -> Sent:
    """Call Countersign's API through the proxy, on its own (unprotected) public host."""
    content = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    return gate.send(method, PUBLIC_HOST, path, token=token, headers=headers, content=content)


def ask(gate: Gate, tokens: Tokens) -> str:
    """ALICE asks for access; returns the request id."""
    sent = api(
        gate,
        "POST",
        "/api/v1/access-requests",
        tokens.alice,
        {
            "application": "approval",
            "justification": "INC-2041 checking the queue",
            "duration": "30m",
        },
    )
    assert sent.status in (200, 201), sent.response.text
    body = sent.response.json()["request"]
    assert body["status"] == "pending"
    return str(body["id"])


def cancel_open_request(gate: Gate, tokens: Tokens) -> None:
    """Leave no open request behind for the next story."""
    listing = api(gate, "GET", "/api/v1/access-requests?mine=true&status=pending", tokens.alice)
    for item in listing.response.json()["items"]:
        api(gate, "POST", f"/api/v1/access-requests/{item['id']}/cancel", tokens.alice)


def test_ask_approve_use_revoke_and_ask_again(nginx: Gate, tokens: Tokens) -> None:
    """needs approval → request → approved for 30 min → allowed → revoked → needs approval."""
    cancel_open_request(nginx, tokens)
    before = nginx.get(APP, "/reports", token=tokens.alice, browser=True)
    assert before.status == 302
    assert "/request?app=approval" in (before.location or "")
    assert not before.arrived

    request_id = ask(nginx, tokens)
    pending = nginx.get(APP, "/reports", token=tokens.alice, browser=True)
    assert pending.status == 302
    assert "/request?app=approval" in (pending.location or "")
    assert not pending.arrived

    approved = api(
        nginx,
        "POST",
        f"/api/v1/access-requests/{request_id}/approve",
        tokens.bob,
        {"duration": "30m", "comment": "go ahead"},
    )
    assert approved.status == 200, approved.response.text
    assert approved.response.json()["status"] == "approved"
    grant_id = approved.response.json()["grant_id"]

    allowed = nginx.get(APP, "/reports", token=tokens.alice)
    assert allowed.status == 200
    assert allowed.seen.header("x-auth-request-email") == "alice@example.com"

    revoked = api(nginx, "DELETE", f"/api/v1/grants/{grant_id}", tokens.bob)
    assert revoked.status == 200, revoked.response.text
    after = nginx.get(APP, "/reports", token=tokens.alice, browser=True)
    assert after.status == 302
    assert "/request?app=approval" in (after.location or "")
    assert not after.arrived


def test_a_short_grant_ends_on_time(nginx: Gate, tokens: Tokens) -> None:
    """A grant approved for 2 seconds lets ALICE in, then stops at its end, on time."""
    cancel_open_request(nginx, tokens)
    request_id = ask(nginx, tokens)
    approved = api(
        nginx,
        "POST",
        f"/api/v1/access-requests/{request_id}/approve",
        tokens.bob,
        {"duration": "2s"},
    )
    assert approved.status == 200, approved.response.text
    assert nginx.get(APP, "/", token=tokens.alice).status == 200
    time.sleep(2.2)
    ended = nginx.get(APP, "/", token=tokens.alice, browser=True)
    assert ended.status == 302
    assert "/request?app=approval" in (ended.location or "")
    assert not ended.arrived


def test_the_requester_cannot_approve_their_own_request(nginx: Gate, tokens: Tokens) -> None:
    """ALICE approving her own request through the API is refused with self-approval."""
    cancel_open_request(nginx, tokens)
    request_id = ask(nginx, tokens)
    refused = api(
        nginx,
        "POST",
        f"/api/v1/access-requests/{request_id}/approve",
        tokens.alice,
        {"duration": "30m"},
    )
    assert refused.status == 403
    assert refused.response.json()["code"] == "self-approval"
    assert nginx.get(APP, "/", token=tokens.alice).status == 403
