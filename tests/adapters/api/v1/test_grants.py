"""/api/v1/grants: listing, ending one's own grant early, revoking, and who may do which."""

from __future__ import annotations

from tests.adapters.api.v1.world import (
    ALICE,
    BOB,
    DAVE,
    ERIN,
    MALLORY,
    READER,
    REVOKER,
    Api,
    problem_of,
)


def test_alice_lists_her_grants(api: Api) -> None:
    """`mine` holds the grant BOB's approval issued."""
    grant = api.granted(ALICE)
    response = api.get("/api/v1/grants?mine=true", who=ALICE)
    assert [g["id"] for g in response.json()["items"]] == [grant["id"]]


def test_alice_ends_her_own_grant_early(api: Api) -> None:
    """The holder may end a grant: it is revoked by her, and marked as ended early."""
    grant = api.granted(ALICE)
    response = api.delete(f"/api/v1/grants/{grant['id']}", who=ALICE)
    assert response.status_code == 200
    ended = response.json()
    assert (ended["status"], ended["revoked_by"], ended["ended_early"]) == (
        "revoked",
        ALICE.email,
        True,
    )


def test_bob_revokes_alices_grant_with_a_reason(api: Api) -> None:
    """An approver of the application revokes; the reason is recorded."""
    grant = api.granted(ALICE)
    response = api.delete(
        f"/api/v1/grants/{grant['id']}", params={"reason": "incident closed"}, who=BOB
    )
    assert response.status_code == 200
    assert response.json()["revoke_reason"] == "incident closed"
    assert response.json()["ended_early"] is False


def test_revoking_twice_is_a_conflict(api: Api) -> None:
    """A grant that is over cannot be revoked again: 409 grant-not-active."""
    grant = api.granted(ALICE)
    api.delete(f"/api/v1/grants/{grant['id']}", who=BOB)
    response = api.delete(f"/api/v1/grants/{grant['id']}", who=BOB)
    assert response.status_code == 409
    assert problem_of(response)["code"] == "grant-not-active"


def test_someone_elses_grant_is_not_found(api: Api) -> None:
    """MALLORY can neither see nor revoke ALICE's grant: 404."""
    grant = api.granted(ALICE)
    assert api.get(f"/api/v1/grants/{grant['id']}", who=MALLORY).status_code == 404
    assert api.delete(f"/api/v1/grants/{grant['id']}", who=MALLORY).status_code == 404


def test_an_admin_lists_one_users_grants(api: Api) -> None:
    """ERIN filters by user and sees ALICE's grant, not DAVE's."""
    alice = api.granted(ALICE)
    api.granted(DAVE)
    response = api.get("/api/v1/grants", params={"user": ALICE.email}, who=ERIN)
    assert [g["id"] for g in response.json()["items"]] == [alice["id"]]


def test_grants_filter_by_application(api: Api) -> None:
    """`application=wiki` keeps only justified wiki sessions."""
    api.granted(ALICE)
    api.post(
        "/api/v1/access-requests",
        who=MALLORY,
        json={"application": "wiki", "justification": "the partner onboarding page"},
    )
    response = api.get("/api/v1/grants?application=wiki&active=true", who=ERIN)
    assert [g["application"] for g in response.json()["items"]] == ["wiki"]


def test_a_revoking_service_token_revokes_and_is_named(api: Api) -> None:
    """The revoker token acting alone revokes; the grant names the token."""
    grant = api.granted(ALICE)
    response = api.delete(f"/api/v1/grants/{grant['id']}", service=REVOKER)
    assert response.status_code == 200
    assert response.json()["revoked_by"] == "token:revoker"


def test_a_service_token_without_the_revoke_scope_is_403(api: Api) -> None:
    """The reader token cannot revoke: 403 insufficient-scope."""
    grant = api.granted(ALICE)
    response = api.delete(f"/api/v1/grants/{grant['id']}", service=READER)
    assert response.status_code == 403
    assert problem_of(response)["code"] == "insufficient-scope"
