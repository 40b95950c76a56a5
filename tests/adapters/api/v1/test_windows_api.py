"""/api/v1 and planned windows and extensions: `starts_at` on a new request (RFC 3339 with an
offset, not in the past, not beyond the policy's horizon), upcoming grants in answers, and
`POST /api/v1/grants/{id}/extend`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.adapters.api.v1.world import ALICE, BOB, MALLORY, Api, problem_of

REQUESTS = "/api/v1/access-requests"


def stamp(moment: datetime) -> str:
    """RFC 3339 in UTC, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tonight() -> datetime:
    """Ten hours from now, whole seconds."""
    return (datetime.now(UTC) + timedelta(hours=10)).replace(microsecond=0)


def test_a_planned_request_is_approved_into_an_upcoming_grant(api: Api) -> None:
    """The request carries `starts_at`; the approved grant starts then, lasts the window, and
    says it is upcoming, in the listing of live grants too."""
    start = tonight()
    request = api.ask(ALICE, duration="2h", starts_at=stamp(start))
    assert request["starts_at"] == stamp(start)
    approved = api.approve(BOB, request["id"])
    assert approved.status_code == 200, approved.text
    grant = api.get(f"/api/v1/grants/{approved.json()['grant_id']}", who=ALICE).json()
    assert (grant["starts_at"], grant["expires_at"]) == (
        stamp(start),
        stamp(start + timedelta(hours=2)),
    )
    assert grant["upcoming"] is True
    live = api.get("/api/v1/grants?mine=true&active=true", who=ALICE).json()["items"]
    assert [(g["id"], g["upcoming"]) for g in live] == [(grant["id"], True)]


def test_an_offset_other_than_utc_is_the_same_moment(api: Api) -> None:
    """`+02:00` is read as the moment it names and answered in UTC."""
    start = tonight()
    text = (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S") + "+02:00"
    request = api.ask(ALICE, starts_at=text)
    assert request["starts_at"] == stamp(start)


@pytest.mark.parametrize(
    ("starts_at", "status", "code"),
    [
        ("2026-12-03T22:00:00", 422, "time-without-offset"),
        ("2026-12-03 22:00", 422, "time-without-offset"),
        ("tonight at ten", 422, "time-invalid"),
        ("2026-13-03T22:00:00Z", 422, "time-invalid"),
        ("1700000000", 422, "time-invalid"),
        ("2020-01-01T00:00:00Z", 422, "start-in-past"),
    ],
)
def test_bad_starts_are_refused_with_their_code(
    api: Api, starts_at: str, status: int, code: str
) -> None:
    """Not RFC 3339, no offset, or in the past: a problem with a stable code, nothing opened."""
    response = api.post(
        REQUESTS,
        who=ALICE,
        json={
            "application": "grafana",
            "justification": "INC-42 dashboards",
            "starts_at": starts_at,
        },
    )
    assert response.status_code == status, response.text
    assert problem_of(response)["code"] == code
    mine = api.get(f"{REQUESTS}?mine=true", who=ALICE).json()["items"]
    assert mine == []


def test_a_start_beyond_the_horizon_is_refused(api: Api) -> None:
    """Further ahead than the policy's `starts_within` (7 days by default): 422."""
    far = datetime.now(UTC) + timedelta(days=8)
    response = api.post(
        REQUESTS,
        who=ALICE,
        json={
            "application": "grafana",
            "justification": "INC-42 dashboards",
            "starts_at": stamp(far),
        },
    )
    assert response.status_code == 422
    assert problem_of(response)["code"] == "start-too-far-ahead"


def test_a_window_longer_than_max_duration_is_refused(api: Api) -> None:
    """The window's length is held to the policy's `max_duration`: 422 duration-too-long."""
    response = api.post(
        REQUESTS,
        who=ALICE,
        json={
            "application": "grafana",
            "justification": "INC-42 dashboards",
            "starts_at": stamp(tonight()),
            "duration": "30d",
        },
    )
    assert response.status_code == 422
    assert problem_of(response)["code"] == "duration-too-long"


def test_the_holder_extends_a_grant_and_an_approval_moves_its_end(api: Api) -> None:
    """201 with the extension request (`extends`); asking again is 200 with the same; BOB's
    approval moves the grant's end by the approved time."""
    grant = api.granted(ALICE)
    path = f"/api/v1/grants/{grant['id']}/extend"
    body = {"justification": "INC-42 still digging", "duration": "1h"}
    asked = api.post(path, who=ALICE, json=body)
    assert asked.status_code == 201, asked.text
    assert asked.json()["extends"] == grant["id"]
    again = api.post(path, who=ALICE, json=body)
    assert again.status_code == 200
    assert again.json()["id"] == asked.json()["id"]
    approved = api.approve(BOB, asked.json()["id"])
    assert approved.status_code == 200, approved.text
    after = api.get(f"/api/v1/grants/{grant['id']}", who=ALICE).json()
    before_end = datetime.fromisoformat(grant["expires_at"].replace("Z", "+00:00"))
    after_end = datetime.fromisoformat(after["expires_at"].replace("Z", "+00:00"))
    assert after_end - before_end == timedelta(hours=1)


def test_someone_elses_grant_cannot_be_extended(api: Api) -> None:
    """MALLORY cannot see ALICE's grant: 404."""
    grant = api.granted(ALICE)
    response = api.post(
        f"/api/v1/grants/{grant['id']}/extend", who=MALLORY, json={"justification": "please"}
    )
    assert response.status_code == 404


def test_an_extension_approved_after_a_revocation_is_a_conflict(api: Api) -> None:
    """Revoked while the extension waited: the request stopped waiting with the revoke
    (expired), the approval is 409 request-not-pending, and the grant stays revoked."""
    grant = api.granted(ALICE)
    asked = api.post(
        f"/api/v1/grants/{grant['id']}/extend",
        who=ALICE,
        json={"justification": "INC-42 still digging"},
    ).json()
    assert api.delete(f"/api/v1/grants/{grant['id']}", who=BOB).status_code == 200
    assert api.get(f"/api/v1/access-requests/{asked['id']}", who=ALICE).json()["status"] == (
        "expired"
    )
    refused = api.approve(BOB, asked["id"])
    assert refused.status_code == 409
    assert problem_of(refused)["code"] == "request-not-pending"
    assert api.get(f"/api/v1/grants/{grant['id']}", who=ALICE).json()["status"] == "revoked"
