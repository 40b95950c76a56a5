"""/api/v1/audit, /api/v1/policies and /api/v1/decisions/explain."""

from __future__ import annotations

import itertools

from tests.adapters.api.v1.world import (
    ALICE,
    AUDITOR,
    BOB,
    DAVE,
    ERIN,
    READER,
    Api,
    problem_of,
)

AUDIT = "/api/v1/audit"
EXPLAIN = "/api/v1/decisions/explain"


def test_the_audit_log_lists_the_workflow_newest_first(api: Api) -> None:
    """Submit, justification, review, approval and the issued grant, newest first."""
    api.granted(ALICE)
    response = api.get(AUDIT, who=ERIN)
    assert response.status_code == 200
    types = [entry["event"]["type"] for entry in response.json()["items"]]
    assert types == [
        "grant_issued",
        "request_approved",
        "request_reviewed",
        "justification_recorded",
        "request_submitted",
    ]


def test_audit_entries_carry_their_hash_chain(api: Api) -> None:
    """Each entry's `prev` is the hash of the entry before it."""
    api.granted(ALICE)
    items = api.get(AUDIT, who=ERIN).json()["items"]
    assert all(newer["prev"] == older["hash"] for newer, older in itertools.pairwise(items))


def test_the_audit_log_filters_by_type_and_user(api: Api) -> None:
    """`type=request_submitted&user=...` keeps DAVE's submission only."""
    api.ask(ALICE)
    api.ask(DAVE)
    response = api.get(AUDIT, params={"type": "request_submitted", "user": DAVE.email}, who=ERIN)
    events = [entry["event"] for entry in response.json()["items"]]
    assert [(e["type"], e["user"]) for e in events] == [("request_submitted", DAVE.email)]


def test_the_audit_log_pages_with_a_cursor(api: Api) -> None:
    """limit=2 then the cursor: the next two entries, none repeated."""
    api.granted(ALICE)
    first = api.get(AUDIT, params={"limit": 2}, who=ERIN).json()
    second = api.get(AUDIT, params={"limit": 2, "cursor": first["next_cursor"]}, who=ERIN).json()
    ids = [e["id"] for e in first["items"]] + [e["id"] for e in second["items"]]
    assert len(ids) == len(set(ids)) == 4


def test_the_audit_log_filters_by_time(api: Api) -> None:
    """Nothing was written before 2001."""
    api.ask(ALICE)
    response = api.get(AUDIT, params={"until": "2001-01-01T00:00:00Z"}, who=ERIN)
    assert response.json() == {"items": [], "next_cursor": None}


def test_a_service_token_with_audit_read_reads_the_log(api: Api) -> None:
    """The auditor token needs no person."""
    api.ask(ALICE)
    assert api.get(AUDIT, service=AUDITOR).status_code == 200


def test_a_service_token_without_audit_read_cannot(api: Api) -> None:
    """The reader token: 403 insufficient-scope."""
    response = api.get(AUDIT, service=READER)
    assert response.status_code == 403
    assert problem_of(response)["code"] == "insufficient-scope"


def test_people_who_are_not_admins_cannot_read_the_log(api: Api) -> None:
    """BOB approves requests but does not administer Countersign: 403 admin-only."""
    response = api.get(AUDIT, who=BOB)
    assert response.status_code == 403
    assert problem_of(response)["code"] == "admin-only"


def test_a_malformed_audit_cursor_is_refused(api: Api) -> None:
    """Cursors are entry ids: anything else is 422."""
    response = api.get(AUDIT, params={"cursor": "yesterday"}, who=ERIN)
    assert response.status_code == 422


def test_an_audit_cursor_with_leading_zeros_is_read_not_a_server_error(api: Api) -> None:
    """`0000000-0` and `0000007-0` are entry ids too: an empty page, never a 500."""
    for cursor in ("0000000-0", "0000007-0"):
        response = api.get(AUDIT, params={"cursor": cursor}, who=ERIN)
        assert response.status_code == 200
        assert response.json()["items"] == []


def test_policies_show_the_loaded_set_and_its_status(api: Api) -> None:
    """The applications in force, Grafana's approval rules, and a clean reload status."""
    response = api.get("/api/v1/policies", who=ERIN)
    assert response.status_code == 200
    body = response.json()
    assert body["last_reload_ok"] is True
    assert body["errors"] == []
    assert body["applications"] == len(body["loaded"])
    grafana = next(app for app in body["loaded"] if app["id"] == "grafana")
    approval = grafana["policies"][2]["approval"]
    assert approval["approvers"] == ["group:sre-leads", "email:cto@example.com"]
    assert approval["max_duration"] == {"seconds": 28800, "text": "8h"}


def test_policies_are_for_admins_only(api: Api) -> None:
    """ALICE: 403 admin-only."""
    response = api.get("/api/v1/policies", who=ALICE)
    assert response.status_code == 403
    assert problem_of(response)["code"] == "admin-only"


def test_explain_shows_the_decision_and_the_rules(api: Api) -> None:
    """An engineer without a grant needs approval; the table shows why each policy fared."""
    response = api.post(
        EXPLAIN,
        who=ERIN,
        json={
            "url": "https://grafana.example.com/d/1",
            "email": "alice@example.com",
            "groups": ["engineering"],
            "device_managed": True,
            "now": "2026-01-05T10:00:00Z",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["decision"] == "needs_approval"
    assert body["policy"] == "Engineers, second opinion required"
    assert [t["matched"] for t in body["explain"]] == [False, False, True]
    assert body["now"] == "2026-01-05T10:00:00Z"


def test_explain_with_a_grant_allows(api: Api) -> None:
    """`grant: "true"` imagines an active grant: allow, grant-active."""
    response = api.post(
        EXPLAIN,
        who=ERIN,
        json={"url": "https://grafana.example.com/", "email": "alice@example.com", "grant": "true"},
    )
    assert response.json()["decision"] == "allow"
    assert "grant-active" in response.json()["reasons"]


def test_explain_is_for_admins_only(api: Api) -> None:
    """BOB: 403 admin-only."""
    response = api.post(EXPLAIN, who=BOB, json={"url": "https://grafana.example.com/"})
    assert response.status_code == 403


def test_explain_refuses_a_url_with_user_information(api: Api) -> None:
    """`https://eve@grafana...` cannot be a request target: 422 invalid-url."""
    response = api.post(EXPLAIN, who=ERIN, json={"url": "https://eve@grafana.example.com/"})
    assert response.status_code == 422
    assert problem_of(response)["code"] == "invalid-url"


def test_explain_refuses_a_url_that_is_not_http(api: Api) -> None:
    """`ftp://...` is 422 invalid-input."""
    response = api.post(EXPLAIN, who=ERIN, json={"url": "ftp://grafana.example.com/"})
    assert response.status_code == 422


def test_explain_refuses_groups_without_a_user(api: Api) -> None:
    """Groups describe a signed-in user: without email they are 422."""
    response = api.post(
        EXPLAIN, who=ERIN, json={"url": "https://grafana.example.com/", "groups": ["sre"]}
    )
    assert response.status_code == 422


def test_explain_refuses_a_time_beyond_the_calendar(api: Api) -> None:
    """A `now` in year 9999 is 422, not an overflow."""
    response = api.post(
        EXPLAIN,
        who=ERIN,
        json={"url": "https://grafana.example.com/", "now": "9999-12-31T23:59:59-05:00"},
    )
    assert response.status_code == 422
