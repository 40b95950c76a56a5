"""/api/v1/break-glass and a request's escalation, through the wired service and a real Redis:
who may break the glass, what it answers, who reviews it and what "not justified" does, and
the escalation schedule a request shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from app.adapters.dev.issuer import DevIssuer
from app.bootstrap import build, prepare_process
from tests.adapters.api.v1.world import (
    ALICE,
    CAROL,
    REVIEW_BOT,
    Api,
    Persona,
    problem_of,
    settings_for,
)
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.redis

POLICIES = Path(__file__).parent / "emergency_policies"
ONCALL = Persona("olga@example.com", ("engineering", "oncall"))
REASON = "INC-4711 the primary is down"


@pytest.fixture
def api(tmp_path: Path, server: RedisServer) -> Iterator[Api]:
    """The wired service over the escalation and break-glass policy, on an empty store."""
    client = redis.Redis.from_url(server.url)
    try:
        client.flushdb()
    finally:
        client.close()
    settings = settings_for(tmp_path, server.url, COUNTERSIGN_POLICY_DIR=str(POLICIES))
    assert prepare_process(settings) is None
    issuer = DevIssuer.load(tmp_path, public_url=settings.server.public_url)
    harness = Api(settings=settings, app=build(settings), issuer=issuer, redis_url=server.url)
    yield harness
    harness.loop.close()


def broken(api: Api, who: Persona = ONCALL, **body: object) -> dict[str, object]:
    """`who` breaks the glass on the database console; the answer's body (201 expected)."""
    response = api.post(
        "/api/v1/break-glass",
        who=who,
        json={"application": "db-console", "justification": REASON, **body},
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"].startswith("/api/v1/grants/grt_")
    result: dict[str, object] = response.json()
    return result


def test_someone_on_call_gets_access_at_once(api: Api) -> None:
    """201 with a break-glass grant for the policy's maximum, awaiting review in 24 hours."""
    outcome = broken(api)
    grant = outcome["grant"]
    assert isinstance(grant, dict)
    assert outcome["created"] is True
    assert grant["kind"] == "break-glass"
    assert grant["status"] == "active"
    assert grant["duration"]["text"] == "1h"
    assert grant["justification"] == REASON
    assert grant["break_glass"]["verdict"] is None
    assert grant["break_glass"]["review_due_at"] > grant["starts_at"]


def test_breaking_it_again_answers_with_the_grant_in_force(api: Api) -> None:
    """Nothing to break twice: 200 with the same grant."""
    first = broken(api)["grant"]
    again = api.post(
        "/api/v1/break-glass",
        who=ONCALL,
        json={"application": "db-console", "justification": REASON},
    )
    assert again.status_code == 200, again.text
    assert again.json()["created"] is False
    assert again.json()["grant"]["id"] == first["id"]  # type: ignore[index]


def test_someone_not_named_is_refused(api: Api) -> None:
    """ALICE is not on call: 403 not-allowed-to-break-glass, and nothing is issued."""
    response = api.post(
        "/api/v1/break-glass",
        who=ALICE,
        json={"application": "db-console", "justification": REASON},
    )
    assert response.status_code == 403
    assert problem_of(response)["code"] == "not-allowed-to-break-glass"
    listed = api.get("/api/v1/grants", who=ALICE, params={"mine": True})
    assert listed.json()["items"] == []


def test_a_reason_is_required(api: Api) -> None:
    """Without a justification the body is refused; one the policy refuses is 422 too."""
    missing = api.post("/api/v1/break-glass", who=ONCALL, json={"application": "db-console"})
    assert missing.status_code == 422
    short = api.post(
        "/api/v1/break-glass",
        who=ONCALL,
        json={"application": "db-console", "justification": "help"},
    )
    assert short.status_code == 422
    assert problem_of(short)["code"] == "justification-too-short"


def test_a_service_token_cannot_break_the_glass(api: Api) -> None:
    """Only the person themselves: a tool acting for them is refused."""
    response = api.post(
        "/api/v1/break-glass",
        service=REVIEW_BOT,
        acting_for=ONCALL,
        json={"application": "db-console", "justification": REASON},
    )
    assert response.status_code == 403


def test_an_approver_lists_and_judges_it_not_justified(api: Api) -> None:
    """CAROL sees the use awaiting review; "not justified" revokes it, and it leaves the list;
    a second verdict is a 409."""
    grant = broken(api)["grant"]
    assert isinstance(grant, dict)
    waiting = api.get("/api/v1/break-glass", who=CAROL)
    assert [g["id"] for g in waiting.json()["items"]] == [grant["id"]]
    assert api.get("/api/v1/break-glass", who=ALICE).json()["items"] == []
    review = f"/api/v1/grants/{grant['id']}/break-glass-review"
    judged = api.post(review, who=CAROL, json={"justified": False, "comment": "no incident"})
    assert judged.status_code == 200, judged.text
    assert judged.json()["status"] == "revoked"
    assert judged.json()["break_glass"]["verdict"] == "not-justified"
    assert api.get("/api/v1/break-glass", who=CAROL).json()["items"] == []
    again = api.post(review, who=CAROL, json={"justified": True})
    assert again.status_code == 409
    assert problem_of(again)["code"] == "break-glass-already-reviewed"


def test_the_holder_cannot_review_their_own_use(api: Api) -> None:
    """403 self-approval, even for the holder's own grant (which they may see)."""
    grant = broken(api)["grant"]
    assert isinstance(grant, dict)
    response = api.post(
        f"/api/v1/grants/{grant['id']}/break-glass-review", who=ONCALL, json={"justified": True}
    )
    assert response.status_code == 403
    assert problem_of(response)["code"] == "self-approval"


def test_a_request_shows_when_it_escalates(api: Api) -> None:
    """Under a policy with escalate_after the request says when the fallback approvers may
    review it (30 minutes from now), and that it has not escalated yet."""
    request = api.ask(ALICE, "db-console", REASON)
    escalation = request["escalation"]
    assert escalation["escalated_at"] is None
    assert escalation["escalates_at"] > request["created_at"]
