"""Who may call /api/v1: people with a verified JWT, and service tokens within their scopes."""

from __future__ import annotations

from tests.adapters.api.v1.world import (
    ALICE,
    ASKER,
    AUDITOR,
    BOB,
    DAVE,
    READER,
    REVIEW_BOT,
    REVOKER,
    Api,
    ServiceToken,
    problem_of,
)

LIST = "/api/v1/access-requests"


def test_no_token_is_401_with_a_bearer_challenge(api: Api) -> None:
    """Without credentials: 401 missing-token and `WWW-Authenticate: Bearer`."""
    response = api.get(LIST)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="countersign"'
    assert problem_of(response)["code"] == "missing-token"


def test_a_forged_token_is_401_invalid_token(api: Api) -> None:
    """A JWT no configured issuer signed: 401 invalid-token with error="invalid_token"."""
    forged = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJl"
    response = api.get(LIST, headers={"authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert problem_of(response)["code"] == "invalid-token"


def test_another_scheme_is_401(api: Api) -> None:
    """`Authorization: Basic` is not a bearer token: 401."""
    response = api.get(LIST, headers={"authorization": "Basic YWxpY2U6c2VjcmV0"})
    assert response.status_code == 401


def test_the_session_cookie_is_not_accepted(api: Api) -> None:
    """A browser's session cookie does not authenticate the API (no cross-site calls)."""
    cookie = f"{api.settings.identity.cookie_name}={api.token(ALICE)}"
    response = api.get(LIST, headers={"cookie": cookie})
    assert response.status_code == 401


def test_a_person_with_a_token_lists_requests(api: Api) -> None:
    """ALICE's own JWT is enough to list what she may see."""
    response = api.get(LIST, who=ALICE)
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


def test_an_unknown_service_token_is_401(api: Api) -> None:
    """A `cst_` token that is not configured: 401 invalid-token."""
    stranger = ServiceToken("stranger", "cst_not-configured", ("requests:read",))
    response = api.get(LIST, service=stranger)
    assert response.status_code == 401
    assert problem_of(response)["code"] == "invalid-token"


def test_a_service_token_with_the_read_scope_lists_every_request(api: Api) -> None:
    """A token acting alone with requests:read sees all requests."""
    request = api.ask(ALICE)
    response = api.get(LIST, service=READER)
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["items"]] == [request["id"]]


def test_a_service_token_without_the_read_scope_is_403(api: Api) -> None:
    """The auditor token (audit:read only) cannot list requests: 403 insufficient-scope."""
    response = api.get(LIST, service=AUDITOR)
    assert response.status_code == 403
    assert problem_of(response)["code"] == "insufficient-scope"


def test_a_service_token_without_the_review_scope_cannot_approve(api: Api) -> None:
    """The reader token acting for BOB still lacks requests:review: 403 insufficient-scope."""
    request = api.ask(ALICE)
    response = api.post(f"{LIST}/{request['id']}/approve", service=READER, acting_for=BOB, json={})
    assert response.status_code == 403
    assert problem_of(response)["code"] == "insufficient-scope"


def test_a_service_token_alone_cannot_review(api: Api) -> None:
    """Reviews need a person: the review bot without a user token is 403."""
    request = api.ask(ALICE)
    response = api.post(f"{LIST}/{request['id']}/approve", service=REVIEW_BOT, json={})
    assert response.status_code == 403
    assert problem_of(response)["code"] == "insufficient-scope"


def test_a_service_token_alone_cannot_ask_for_access(api: Api) -> None:
    """Asking needs a person too."""
    response = api.post(
        LIST, service=REVIEW_BOT, json={"application": "grafana", "justification": "INC-1 x"}
    )
    assert response.status_code == 403


def test_asking_for_a_person_needs_the_create_scope(api: Api) -> None:
    """A token acting for ALICE asks, extends and withdraws only with requests:create: the
    review bot (read and review) is refused 403 insufficient-scope, the asker is not."""
    body = {"application": "grafana", "justification": "INC-1 dashboards are blank"}
    refused = api.post(LIST, service=REVIEW_BOT, acting_for=ALICE, json=body)
    assert refused.status_code == 403
    assert problem_of(refused)["code"] == "insufficient-scope"
    asked = api.post(LIST, service=ASKER, acting_for=ALICE, json=body)
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["request"]["id"]
    for token, status in ((REVIEW_BOT, 403), (ASKER, 200)):
        withdrawn = api.post(f"{LIST}/{request_id}/cancel", service=token, acting_for=ALICE)
        assert withdrawn.status_code == status, withdrawn.text
    assert withdrawn.json()["status"] == "cancelled"


def test_the_audit_log_names_the_token_that_carried_a_call(api: Api) -> None:
    """Asking and withdrawing for ALICE through the asker, and revoking BOB's way through the
    revoker: each event names the person acting and, in `via_token`, the token; what ALICE
    does herself names no token."""
    body = {"application": "grafana", "justification": "INC-1 dashboards are blank"}
    asked = api.post(LIST, service=ASKER, acting_for=ALICE, json=body).json()["request"]
    api.post(f"{LIST}/{asked['id']}/cancel", service=ASKER, acting_for=ALICE)
    grant = api.granted(ALICE)
    revoked = api.delete(f"/api/v1/grants/{grant['id']}", service=REVOKER, acting_for=BOB)
    assert revoked.status_code == 200, revoked.text
    entries = api.get("/api/v1/audit", params={"limit": 100}, service=AUDITOR).json()["items"]
    carried = {
        (e["event"]["type"], e["event"]["actor"], e["event"]["data"].get("via_token"))
        for e in entries
    }
    assert ("request_submitted", ALICE.email, "asker") in carried
    assert ("request_cancelled", ALICE.email, "asker") in carried
    assert ("grant_revoked", BOB.email, "revoker") in carried
    assert ("request_submitted", ALICE.email, None) in carried  # her own, in api.granted


def test_a_bad_user_token_with_a_service_token_is_401(api: Api) -> None:
    """The person's token is verified like any other: 401 invalid-user-token."""
    response = api.get(
        LIST, service=REVIEW_BOT, headers={"x-countersign-user-token": "not.a.token"}
    )
    assert response.status_code == 401
    assert problem_of(response)["code"] == "invalid-user-token"


def test_an_approval_through_a_service_token_records_both(api: Api) -> None:
    """The review names BOB as reviewer and the review bot as the token it came through."""
    request = api.ask(ALICE)
    response = api.post(
        f"{LIST}/{request['id']}/approve",
        service=REVIEW_BOT,
        acting_for=BOB,
        json={"comment": "approved in chat"},
    )
    assert response.status_code == 200
    review = response.json()["reviews"][0]
    assert (review["reviewer"], review["via_token"]) == ("bob@example.com", "review-bot")
    assert response.json()["status"] == "approved"


def test_a_service_token_acting_for_a_person_sees_only_what_they_see(api: Api) -> None:
    """The reader token acting for DAVE (no Grafana approver) cannot see ALICE's request."""
    request = api.ask(ALICE)
    response = api.get(f"{LIST}/{request['id']}", service=READER, acting_for=DAVE)
    assert response.status_code == 404
