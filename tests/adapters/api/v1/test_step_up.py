"""Step-up through /api/v1: the database console's approvers need MFA within 15 minutes. A
refused approval is 401 `step-up-required` with the RFC 9470 challenge, what is needed and a
link to sign in again; with a fresh MFA sign-in the same approval goes through."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from tests.adapters.api.v1.world import (
    ALICE,
    CAROL,
    DB_REASON,
    ERIN,
    REVIEW_BOT,
    Api,
    problem_of,
)

#: CAROL signed in with a password only.
CAROL_PASSWORD = replace(CAROL, amr=("pwd",))
#: CAROL with MFA, but her token carries no auth_time.
CAROL_TIMELESS = replace(CAROL, signed_in_ago=None)
#: CAROL with MFA an hour ago.
CAROL_STALE = replace(CAROL, signed_in_ago=timedelta(hours=1))
CHALLENGE = (
    'Bearer realm="countersign", error="insufficient_user_authentication", '
    'error_description="approving this request needs a sign-in with MFA and within the last '
    '15 minutes", max_age=900'
)


def test_a_password_only_approver_gets_401_step_up_required(api: Api) -> None:
    """CAROL without MFA: 401 problem+json, code step-up-required, what is needed."""
    request = api.ask(ALICE, "db-console", DB_REASON)
    response = api.approve(CAROL_PASSWORD, request["id"])
    assert response.status_code == 401
    problem = problem_of(response)
    assert problem["code"] == "step-up-required"
    assert problem["type"] == "urn:countersign:problem:step-up-required"
    assert problem["step_up"] == {"mfa": True, "max_age": 900, "missing": ["mfa"]}


def test_the_refusal_carries_the_rfc_9470_challenge(api: Api) -> None:
    """WWW-Authenticate: Bearer error="insufficient_user_authentication" with max_age."""
    request = api.ask(ALICE, "db-console", DB_REASON)
    response = api.approve(CAROL_STALE, request["id"])
    assert response.headers["www-authenticate"] == CHALLENGE
    assert response.headers["cache-control"] == "no-store"
    assert problem_of(response)["step_up"]["missing"] == ["recent-sign-in"]


def test_the_sign_in_url_leads_back_to_the_review_page(api: Api) -> None:
    """sign_in_url is /login with prompt=login, max_age, mfa=1 and rd = the review page."""
    request = api.ask(ALICE, "db-console", DB_REASON)
    url = problem_of(api.approve(CAROL_TIMELESS, request["id"]))["sign_in_url"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "http://auth.example.com:8000/login"
    assert parse_qs(parts.query) == {
        "rd": [f"http://auth.example.com:8000/inbox/{request['id']}"],
        "prompt": ["login"],
        "max_age": ["900"],
        "mfa": ["1"],
    }


def test_a_refused_approval_changes_nothing(api: Api) -> None:
    """After the refusal the request is pending with no review."""
    request = api.ask(ALICE, "db-console", DB_REASON)
    api.approve(CAROL_PASSWORD, request["id"])
    shown = api.get(f"/api/v1/access-requests/{request['id']}", who=ALICE).json()
    assert (shown["status"], shown["reviews"]) == ("pending", [])


def test_a_fresh_mfa_sign_in_approves(api: Api) -> None:
    """CAROL, MFA a minute ago: her approval is counted."""
    request = api.ask(ALICE, "db-console", DB_REASON)
    response = api.approve(CAROL, request["id"])
    assert response.status_code == 200, response.text
    assert response.json()["reviews"][0]["reviewer"] == "carol@example.com"


def test_a_stale_approver_may_deny(api: Api) -> None:
    """Denying needs no fresh sign-in: CAROL's stale, password-only denial ends the request."""
    request = api.ask(ALICE, "db-console", DB_REASON)
    response = api.post(
        f"/api/v1/access-requests/{request['id']}/deny",
        who=replace(CAROL_STALE, amr=("pwd",)),
        json={"comment": "not in a change window"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "denied"


def test_a_service_token_is_judged_by_the_persons_sign_in(api: Api) -> None:
    """The review bot acting for CAROL without MFA is refused like CAROL herself."""
    request = api.ask(ALICE, "db-console", DB_REASON)
    response = api.post(
        f"/api/v1/access-requests/{request['id']}/approve",
        service=REVIEW_BOT,
        acting_for=CAROL_PASSWORD,
        json={},
    )
    assert response.status_code == 401
    assert problem_of(response)["code"] == "step-up-required"


def test_the_audit_entry_records_the_reviewers_sign_in(api: Api) -> None:
    """The request_reviewed entry of CAROL's approval carries her amr and auth_time."""
    request = api.ask(ALICE, "db-console", DB_REASON)
    assert api.approve(CAROL, request["id"]).status_code == 200
    items = api.get("/api/v1/audit", who=ERIN).json()["items"]
    reviewed = [i["event"] for i in items if i["event"]["type"] == "request_reviewed"]
    assert reviewed[0]["data"]["amr"] == ["mfa", "pwd"]
    assert isinstance(reviewed[0]["data"]["auth_time"], int)
