"""Asking, reviewing and cancelling through /api/v1/access-requests (the happy paths)."""

from __future__ import annotations

from tests.adapters.api.v1.world import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    DB_REASON,
    MALLORY,
    Api,
    Persona,
)


def test_alice_asks_for_grafana_and_her_request_is_pending(api: Api) -> None:
    """201 with a pending request, its Location, and the policy's prompt."""
    response = api.post(
        "/api/v1/access-requests",
        who=ALICE,
        json={"application": "grafana", "justification": "INC-1 checking the dashboards"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["created"] is True
    assert body["grant"] is None
    request = body["request"]
    assert request["status"] == "pending"
    assert request["application"] == "grafana"
    assert request["prompt"] == "Ticket or incident?"
    assert response.headers["location"] == f"/api/v1/access-requests/{request['id']}"


def test_the_request_records_the_signals_of_the_ask(api: Api) -> None:
    """Client IP (via a trusted proxy), device and User-Agent are read as forward-auth does."""
    response = api.post(
        "/api/v1/access-requests",
        who=ALICE,
        json={"application": "grafana", "justification": "INC-1 checking the dashboards"},
        headers={"x-forwarded-for": "203.0.113.7", "user-agent": "Firefox/128"},
    )
    requester = response.json()["request"]["requester"]
    assert requester["client_ip"] == "203.0.113.7"
    assert requester["user_agent"] == "Firefox/128"
    assert requester["device"]["managed"] is True
    assert requester["user"] == "alice@example.com"


def test_asking_again_returns_the_open_request(api: Api) -> None:
    """One open request per user and application: a second ask answers 200 with the same one."""
    first = api.ask(ALICE)
    again = api.post(
        "/api/v1/access-requests",
        who=ALICE,
        json={"application": "grafana", "justification": "INC-2 another reason"},
    )
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["request"]["id"] == first["id"]


def test_requested_duration_is_kept_in_both_notations(api: Api) -> None:
    """`PT2H` is read as ISO 8601 and shown back as seconds and `2h`."""
    request = api.ask(ALICE, duration="PT2H")
    assert request["requested_duration"] == {"seconds": 7200, "text": "2h"}


def test_bob_approves_and_alice_has_a_grant(api: Api) -> None:
    """One SRE lead's approval resolves the Grafana request and issues a grant."""
    request = api.ask(ALICE)
    response = api.approve(BOB, request["id"], duration="30m", comment="go ahead")
    assert response.status_code == 200
    approved = response.json()
    assert approved["status"] == "approved"
    assert approved["reviews"][0]["reviewer"] == "bob@example.com"
    assert approved["reviews"][0]["duration"] == {"seconds": 1800, "text": "30m"}
    grant = api.get(f"/api/v1/grants/{approved['grant_id']}", who=ALICE).json()
    assert grant["status"] == "active"
    assert grant["duration"] == {"seconds": 1800, "text": "30m"}


def test_approval_without_a_body_uses_the_policy_default(api: Api) -> None:
    """No duration: the requested one, else the policy's default (1h for Grafana)."""
    request = api.ask(ALICE)
    response = api.post(f"/api/v1/access-requests/{request['id']}/approve", who=BOB)
    assert response.status_code == 200
    assert response.json()["reviews"][0]["duration"]["text"] == "1h"


def test_the_database_console_needs_two_approvers(api: Api) -> None:
    """CAROL's approval is counted; DAVE's second one resolves the request."""
    request = api.ask(ALICE, "db-console", DB_REASON)
    first = api.approve(CAROL, request["id"])
    assert first.json()["status"] == "pending"
    second = api.approve(DAVE, request["id"])
    assert second.json()["status"] == "approved"
    assert [r["reviewer"] for r in second.json()["reviews"]] == [CAROL.email, DAVE.email]


def test_the_wiki_opens_a_session_on_a_justification(api: Api) -> None:
    """A justification-only policy answers with a grant at once, and no request."""
    response = api.post(
        "/api/v1/access-requests",
        who=MALLORY,
        json={"application": "wiki", "justification": "the partner onboarding page"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["request"] is None
    assert body["grant"]["kind"] == "justification"
    assert body["grant"]["duration"]["text"] == "8h"
    assert "location" not in response.headers


def test_bob_denies_with_a_comment(api: Api) -> None:
    """A deny by an eligible approver ends the request and records the comment."""
    request = api.ask(ALICE)
    response = api.post(
        f"/api/v1/access-requests/{request['id']}/deny",
        who=BOB,
        json={"comment": "use the read-only dashboards"},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "denied"
    assert response.json()["resolution_comment"] == "use the read-only dashboards"


def test_alice_cancels_her_own_request(api: Api) -> None:
    """The requester withdraws a pending request."""
    request = api.ask(ALICE)
    response = api.post(f"/api/v1/access-requests/{request['id']}/cancel", who=ALICE)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_bob_cannot_cancel_alices_request(api: Api) -> None:
    """Only the requester cancels: 403 not-your-request."""
    request = api.ask(ALICE)
    response = api.post(f"/api/v1/access-requests/{request['id']}/cancel", who=BOB)
    assert response.status_code == 403
    assert response.json()["code"] == "not-your-request"


def test_the_requester_reads_her_request(api: Api) -> None:
    """GET by id returns the same request to its requester."""
    request = api.ask(ALICE)
    response = api.get(f"/api/v1/access-requests/{request['id']}", who=ALICE)
    assert response.status_code == 200
    assert response.json()["id"] == request["id"]


def test_to_review_lists_what_bob_may_approve(api: Api) -> None:
    """BOB's review queue holds ALICE's Grafana request, not her database console one."""
    grafana = api.ask(ALICE)
    api.ask(ALICE, "db-console", DB_REASON)
    response = api.get("/api/v1/access-requests?to_review=true", who=BOB)
    assert [r["id"] for r in response.json()["items"]] == [grafana["id"]]


def test_mine_lists_only_my_requests(api: Api) -> None:
    """`mine` is the caller's own requests."""
    api.ask(ALICE)
    api.ask(DAVE)
    response = api.get("/api/v1/access-requests?mine=true", who=DAVE)
    assert [r["requester"]["user"] for r in response.json()["items"]] == [DAVE.email]


def test_status_filter_keeps_only_that_status(api: Api) -> None:
    """`status=approved` leaves out pending requests."""
    pending = api.ask(DAVE)
    approved = api.ask(ALICE)
    api.approve(BOB, approved["id"])
    response = api.get("/api/v1/access-requests?status=approved", who=BOB)
    ids = [r["id"] for r in response.json()["items"]]
    assert ids == [approved["id"]]
    assert pending["id"] not in ids


def test_listing_pages_with_a_cursor(api: Api) -> None:
    """limit=2 over three requests: two, then one with no further cursor."""
    for n in range(3):
        api.ask(Persona(f"eng{n}@example.com", ("engineering",)))
    first = api.get("/api/v1/access-requests?limit=2", who=BOB).json()
    assert len(first["items"]) == 2
    second = api.get(
        "/api/v1/access-requests", params={"limit": 2, "cursor": first["next_cursor"]}, who=BOB
    ).json()
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    seen = {r["id"] for r in first["items"]} | {r["id"] for r in second["items"]}
    assert len(seen) == 3


def test_asking_while_a_grant_is_in_force_answers_200_with_that_grant(api: Api) -> None:
    """ALICE asks again after BOB approved: 200, `created` false, no request, her live grant."""
    grant = api.granted(ALICE)
    again = api.post(
        "/api/v1/access-requests",
        who=ALICE,
        json={"application": "grafana", "justification": "INC-3 still looking"},
    )
    body = again.json()
    assert again.status_code == 200
    assert (body["created"], body["request"]) == (False, None)
    assert body["grant"]["id"] == grant["id"]
    assert body["grant"]["status"] == "active"
    assert "location" not in again.headers


def test_revoking_the_one_grant_ends_access_after_asking_again(api: Api) -> None:
    """However often ALICE asks, BOB's one revocation leaves her no active grant."""
    grant = api.granted(ALICE)
    api.post(
        "/api/v1/access-requests",
        who=ALICE,
        json={"application": "grafana", "justification": "INC-3 still looking"},
    )
    assert api.delete(f"/api/v1/grants/{grant['id']}", who=BOB).status_code == 200
    active = api.get("/api/v1/grants?mine=true&active=true", who=ALICE).json()["items"]
    assert active == []


def test_records_name_the_person_and_the_policy_fingerprint(api: Api) -> None:
    """Requests and grants carry issuer, subject and the policy's fingerprint."""
    grant = api.granted(ALICE)
    request = api.get(f"/api/v1/access-requests/{grant['request_id']}", who=ALICE).json()
    assert request["requester"]["subject"] == "alice@example.com"
    assert request["requester"]["issuer"].endswith("/dev")
    assert request["reviews"][0]["subject"] == "bob@example.com"
    assert len(request["policy_fingerprint"]) == 64
    assert (grant["subject"], grant["policy_fingerprint"]) == (
        "alice@example.com",
        request["policy_fingerprint"],
    )
