"""Bad input to /api/v1, one refusal per test: who may review, durations, justifications,
requests that have moved on, and unknown ids."""

from __future__ import annotations

import pytest

from tests.adapters.api.v1.world import (
    ALICE,
    BOB,
    BOB_UNMANAGED,
    CAROL,
    ERIN,
    MALLORY,
    REVIEW_BOT,
    Api,
    problem_of,
)

ASK = "/api/v1/access-requests"


def ask_with(api: Api, **body: object) -> dict[str, object]:
    """ALICE asks for Grafana with `body` (the problem document is returned)."""
    response = api.post(ASK, who=ALICE, json={"application": "grafana", **body})
    assert response.status_code >= 400, response.text
    return {"status": response.status_code, **problem_of(response)}


# -- who may review ---------------------------------------------------------------------------


def test_an_approver_cannot_approve_his_own_request(api: Api) -> None:
    """BOB, an SRE lead asking from a personal laptop, cannot approve himself: self-approval."""
    request = api.ask(BOB_UNMANAGED)
    response = api.approve(BOB_UNMANAGED, request["id"])
    assert response.status_code == 403
    assert problem_of(response)["code"] == "self-approval"


def test_self_approval_through_a_service_token_is_refused(api: Api) -> None:
    """A review bot acting for the requester is still the requester: self-approval."""
    request = api.ask(BOB_UNMANAGED)
    response = api.post(
        f"{ASK}/{request['id']}/approve", service=REVIEW_BOT, acting_for=BOB_UNMANAGED, json={}
    )
    assert response.status_code == 403
    assert problem_of(response)["code"] == "self-approval"


def test_an_admin_who_is_not_an_approver_cannot_approve(api: Api) -> None:
    """ERIN sees every request but is no Grafana approver: 403 not-an-approver."""
    request = api.ask(ALICE)
    response = api.approve(ERIN, request["id"])
    assert response.status_code == 403
    assert problem_of(response)["code"] == "not-an-approver"


def test_an_approver_of_another_application_gets_not_found(api: Api) -> None:
    """CAROL approves the database console, not Grafana: the request is not hers to see (404)."""
    request = api.ask(ALICE)
    response = api.approve(CAROL, request["id"])
    assert response.status_code == 404
    assert problem_of(response)["code"] == "not-found"


# -- durations --------------------------------------------------------------------------------


def test_an_approval_longer_than_max_duration_is_refused(api: Api) -> None:
    """Grafana grants last at most 8h: 9h is 422 duration-too-long."""
    request = api.ask(ALICE)
    response = api.approve(BOB, request["id"], duration="9h")
    assert response.status_code == 422
    assert problem_of(response)["code"] == "duration-too-long"


def test_asking_for_longer_than_max_duration_is_refused(api: Api) -> None:
    """The requester cannot ask past the maximum either."""
    problem = ask_with(api, justification="INC-1 dashboards", duration="P1D")
    assert (problem["status"], problem["code"]) == (422, "duration-too-long")


def test_a_zero_duration_is_refused(api: Api) -> None:
    """`0s` is 422 duration-not-positive."""
    request = api.ask(ALICE)
    response = api.approve(BOB, request["id"], duration="0s")
    assert response.status_code == 422
    assert problem_of(response)["code"] == "duration-not-positive"


def test_a_zero_iso_duration_is_refused(api: Api) -> None:
    """`PT0S` is 422 duration-not-positive too."""
    problem = ask_with(api, justification="INC-1 dashboards", duration="PT0S")
    assert (problem["status"], problem["code"]) == (422, "duration-not-positive")


def test_a_negative_duration_is_refused(api: Api) -> None:
    """`-30m` is 422 duration-not-positive."""
    request = api.ask(ALICE)
    response = api.approve(BOB, request["id"], duration="-30m")
    assert response.status_code == 422
    assert problem_of(response)["code"] == "duration-not-positive"


def test_text_that_is_not_a_duration_is_refused(api: Api) -> None:
    """`a while` is 422 duration-invalid."""
    request = api.ask(ALICE)
    response = api.approve(BOB, request["id"], duration="a while")
    assert response.status_code == 422
    assert problem_of(response)["code"] == "duration-invalid"


def test_a_number_as_duration_is_refused(api: Api) -> None:
    """A JSON number is not a duration string: 422 invalid-input."""
    problem = ask_with(api, justification="INC-1 dashboards", duration=3600)
    assert (problem["status"], problem["code"]) == (422, "invalid-input")


# -- justifications ---------------------------------------------------------------------------


def test_a_missing_justification_is_refused(api: Api) -> None:
    """Grafana asks why: 422 justification-required."""
    problem = ask_with(api)
    assert (problem["status"], problem["code"]) == (422, "justification-required")


def test_a_too_short_justification_is_refused(api: Api) -> None:
    """Grafana wants at least 8 characters: 422 justification-too-short."""
    problem = ask_with(api, justification="INC-1")
    assert (problem["status"], problem["code"]) == (422, "justification-too-short")


def test_a_justification_without_a_ticket_is_refused(api: Api) -> None:
    """The database console wants CHG-/INC- numbers: 422 justification-pattern-mismatch."""
    response = api.post(
        ASK,
        who=ALICE,
        json={"application": "db-console", "justification": "I need to look at a table"},
    )
    assert response.status_code == 422
    assert problem_of(response)["code"] == "justification-pattern-mismatch"


def test_a_megabyte_justification_is_refused_before_parsing(api: Api) -> None:
    """A 1 MB body is 413 body-too-large, read no further than the limit."""
    problem = ask_with(api, justification="INC-1 " + "x" * 1_048_576)
    assert (problem["status"], problem["code"]) == (413, "body-too-large")


def test_a_justification_past_any_policy_limit_is_refused(api: Api) -> None:
    """20,000 characters fit the body limit but no policy: 422 invalid-input."""
    problem = ask_with(api, justification="INC-1 " + "x" * 20_000)
    assert (problem["status"], problem["code"]) == (422, "invalid-input")


def test_a_justification_past_the_policy_limit_is_refused(api: Api) -> None:
    """Grafana's justification holds at most 2,000 characters: justification-too-long."""
    problem = ask_with(api, justification="INC-1 " + "x" * 3_000)
    assert (problem["status"], problem["code"]) == (422, "justification-too-long")


def test_a_justification_full_of_control_characters_is_refused(api: Api) -> None:
    """NUL, ESC and BEL are refused: 422 justification-control-characters."""
    problem = ask_with(api, justification="INC-1 \x00\x1b[31m\x07 dashboards")
    assert (problem["status"], problem["code"]) == (422, "justification-control-characters")


def test_a_justification_with_an_unpaired_surrogate_is_refused(api: Api) -> None:
    """Text that cannot be stored as UTF-8 is 422 invalid-input, not a crash."""
    response = api.post(
        ASK,
        who=ALICE,
        content=b'{"application": "grafana", "justification": "INC-1 \\ud800 dashboards"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert problem_of(response)["code"] == "invalid-input"


# -- requests that moved on -------------------------------------------------------------------


def test_approving_an_expired_request_is_a_conflict(api: Api) -> None:
    """Past its pending time the request expires instead: 409 request-expired."""
    request = api.ask(ALICE)
    api.age(request["id"])
    response = api.approve(BOB, request["id"])
    assert response.status_code == 409
    assert problem_of(response)["code"] == "request-expired"
    after = api.get(f"{ASK}/{request['id']}", who=ALICE).json()
    assert after["status"] == "expired"


def test_approving_a_denied_request_is_a_conflict(api: Api) -> None:
    """A denied request takes no more reviews: 409 request-not-pending."""
    request = api.ask(ALICE)
    api.post(f"{ASK}/{request['id']}/deny", who=BOB, json={"comment": "not during the freeze"})
    response = api.approve(BOB, request["id"])
    assert response.status_code == 409
    assert problem_of(response)["code"] == "request-not-pending"


def test_approving_a_cancelled_request_is_a_conflict(api: Api) -> None:
    """A cancelled request takes no more reviews: 409 request-not-pending."""
    request = api.ask(ALICE)
    api.post(f"{ASK}/{request['id']}/cancel", who=ALICE)
    response = api.approve(BOB, request["id"])
    assert response.status_code == 409
    assert problem_of(response)["code"] == "request-not-pending"


def test_cancelling_twice_is_a_conflict(api: Api) -> None:
    """Only a pending request can be cancelled."""
    request = api.ask(ALICE)
    api.post(f"{ASK}/{request['id']}/cancel", who=ALICE)
    response = api.post(f"{ASK}/{request['id']}/cancel", who=ALICE)
    assert response.status_code == 409


# -- ids, applications and shapes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{ASK}/req_doesnotexist"),
        ("POST", f"{ASK}/req_doesnotexist/approve"),
        ("POST", f"{ASK}/req_doesnotexist/cancel"),
        ("GET", "/api/v1/grants/grt_doesnotexist"),
        ("DELETE", "/api/v1/grants/grt_doesnotexist"),
    ],
)
def test_an_unknown_id_is_not_found(api: Api, method: str, path: str) -> None:
    """Ids nobody handed out are 404 not-found."""
    response = api.call(method, path, who=ERIN)
    assert response.status_code == 404
    assert problem_of(response)["code"] == "not-found"


def test_an_id_that_cannot_be_one_is_invalid(api: Api) -> None:
    """An id with characters no id has is 422 invalid-input."""
    response = api.get(f"{ASK}/req%20*", who=ALICE)
    assert response.status_code == 422
    assert problem_of(response)["code"] == "invalid-input"


def test_someone_elses_request_is_not_found(api: Api) -> None:
    """MALLORY cannot tell ALICE's request from no request: 404."""
    request = api.ask(ALICE)
    response = api.get(f"{ASK}/{request['id']}", who=MALLORY)
    assert response.status_code == 404
    assert problem_of(response)["code"] == "not-found"


def test_an_unknown_application_is_not_found(api: Api) -> None:
    """No such application: 404."""
    response = api.post(ASK, who=ALICE, json={"application": "payroll", "justification": "x"})
    assert response.status_code == 404


def test_a_contractor_cannot_ask_for_grafana(api: Api) -> None:
    """Grafana blocks contractors first: 403 no-policy-allows-a-request."""
    response = api.post(ASK, who=MALLORY, json={"application": "grafana", "justification": "x"})
    assert response.status_code == 403
    assert problem_of(response)["code"] == "no-policy-allows-a-request"


def test_someone_let_in_anyway_has_nothing_to_ask(api: Api) -> None:
    """BOB on his managed laptop is allowed outright: 403 access-needs-no-request."""
    response = api.post(ASK, who=BOB, json={"application": "grafana", "justification": "x"})
    assert response.status_code == 403
    assert problem_of(response)["code"] == "access-needs-no-request"


def test_an_unknown_field_is_refused(api: Api) -> None:
    """Bodies are strict: a misspelt field is 422, not silently ignored."""
    problem = ask_with(api, justification="INC-1 dashboards", duraton="1h")
    assert (problem["status"], problem["code"]) == (422, "invalid-input")


def test_malformed_json_is_refused(api: Api) -> None:
    """A body that is not JSON is 422 invalid-input."""
    response = api.post(
        ASK, who=ALICE, content=b'{"application":', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert problem_of(response)["code"] == "invalid-input"


def test_a_denial_needs_a_comment(api: Api) -> None:
    """Deny without a comment is 422 invalid-input."""
    request = api.ask(ALICE)
    response = api.post(f"{ASK}/{request['id']}/deny", who=BOB, json={})
    assert response.status_code == 422
    assert problem_of(response)["errors"][0]["location"] == "body.comment"


def test_a_comment_with_control_characters_is_refused(api: Api) -> None:
    """Review comments are checked like justifications: 422 comment-control-characters."""
    request = api.ask(ALICE)
    response = api.approve(BOB, request["id"], comment="ok\x1b[2J")
    assert response.status_code == 422
    assert problem_of(response)["code"] == "comment-control-characters"


def test_a_cursor_not_handed_out_is_refused(api: Api) -> None:
    """`cursor=tomorrow` is 422 bad-cursor."""
    response = api.get(f"{ASK}?cursor=tomorrow", who=BOB)
    assert response.status_code == 422
    assert problem_of(response)["code"] == "bad-cursor"


@pytest.mark.parametrize("limit", ["0", "201", "ten"])
def test_a_limit_outside_1_to_200_is_refused(api: Api, limit: str) -> None:
    """Page sizes are 1..200."""
    response = api.get(f"{ASK}?limit={limit}", who=BOB)
    assert response.status_code == 422


def test_an_unknown_status_filter_is_refused(api: Api) -> None:
    """`status` is one of the request statuses."""
    response = api.get(f"{ASK}?status=maybe", who=BOB)
    assert response.status_code == 422
