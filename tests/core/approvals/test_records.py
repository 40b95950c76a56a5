"""Records as JSON: requests, grants and events round-trip exactly, timestamps are UTC with `Z`,
durations are integer seconds, and malformed input is refused with the field it concerns."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings

from app.core.approvals import AccessRequest, Event, Grant, RecordError, review
from tests.core.approvals.people import APPROVE, BOB, NOW, SRE_LEADS, approved, pending
from tests.core.approvals.strategies import access_requests, events, grants

MODEST = settings(max_examples=200, deadline=None)


def through_json(record: dict[str, Any]) -> Any:
    """What the store reads back after writing `record` as JSON."""
    return json.loads(json.dumps(record))


@MODEST
@given(access_requests())
def test_any_request_round_trips_through_json(request: AccessRequest) -> None:
    """from_dict(to_dict(r)) == r for every well-formed request."""
    assert AccessRequest.from_dict(through_json(request.to_dict())) == request


@MODEST
@given(grants())
def test_any_grant_round_trips_through_json(grant: Grant) -> None:
    """from_dict(to_dict(g)) == g for every well-formed grant."""
    assert Grant.from_dict(through_json(grant.to_dict())) == grant


@MODEST
@given(events)
def test_any_event_round_trips_through_json(event: Event) -> None:
    """from_dict(to_dict(e)) == e for every event."""
    assert Event.from_dict(through_json(event.to_dict())) == event


def test_timestamps_are_utc_with_z_and_durations_are_seconds() -> None:
    """The wire form: `2024-05-06T10:00:00Z`, and durations as integers."""
    body = pending(requested=SRE_LEADS.approval.max_duration).to_dict()  # type: ignore[union-attr]
    assert (body["created_at"], body["expires_at"]) == (
        "2024-05-06T10:00:00Z",
        "2024-05-07T10:00:00Z",
    )
    assert body["requested_duration"] == 8 * 3600


def test_a_real_approved_request_and_its_grant_round_trip() -> None:
    """The values transitions produce survive the store unchanged."""
    request, grant = approved()
    assert AccessRequest.from_dict(through_json(request.to_dict())) == request
    assert Grant.from_dict(through_json(grant.to_dict())) == grant


def test_events_of_a_transition_are_json_ready() -> None:
    """Every event an approval causes can be written to the audit log as JSON and read back."""
    done = review(
        pending(), reviewer=BOB, decision=APPROVE, policy=SRE_LEADS, now=NOW, grant_id="g-1"
    )
    for event in done.events:
        assert Event.from_dict(through_json(event.to_dict())) == event


def test_unknown_keys_are_ignored() -> None:
    """A field added by a newer release does not stop an older replica reading the record."""
    body = pending().to_dict() | {"added_later": {"x": 1}}
    assert AccessRequest.from_dict(body) == pending()


def _broken(path: list[str | int], value: object) -> dict[str, Any]:
    body = through_json(pending().to_dict())
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["id"], "", r"\$\.id: expected a non-empty string"),
        (["created_at"], "2024-05-06T10:00:00", r"\$\.created_at: expected a UTC timestamp"),
        (["created_at"], "2024-05-06T10:00:00+02:00", r"\$\.created_at: expected a UTC"),
        (["created_at"], "2024-02-30T10:00:00Z", r"\$\.created_at: expected a real date"),
        (["created_at"], 1714989600, r"\$\.created_at: expected a UTC timestamp"),
        (["requested_duration"], 0, r"\$\.requested_duration: expected an integer of at least 1"),
        (["requested_duration"], 1.5, r"\$\.requested_duration: expected an integer"),
        (["requested_duration"], True, r"\$\.requested_duration: expected an integer"),
        (["version"], 0, r"\$\.version: expected an integer of at least 1"),
        (["status"], "approved-ish", r"\$\.status: expected one of pending, approved"),
        (["requester", "groups"], "sre", r"\$\.requester\.groups: expected a list of strings"),
        (["requester", "device", "managed"], "yes", r"\$\.requester\.device\.managed"),
        (["reviews"], {}, r"\$\.reviews: expected a list"),
        (["reviews"], [7], r"\$\.reviews\[0\]: expected an object"),
        (["status"], "approved", r"\$\.resolved_at: set exactly when"),
    ],
)
def test_malformed_request_is_refused_with_its_path(
    path: list[str | int], value: object, message: str
) -> None:
    """Each kind of damage is named by the JSON path of the field."""
    with pytest.raises(RecordError, match=message):
        AccessRequest.from_dict(_broken(path, value))


def test_missing_field_is_named() -> None:
    """A missing key is reported as missing, with its path."""
    body = pending().to_dict()
    del body["expires_at"]
    with pytest.raises(RecordError, match=r"\$\.expires_at: missing"):
        AccessRequest.from_dict(body)


@pytest.mark.parametrize("raw", [None, [], "{}", 42])
def test_non_object_is_refused(raw: object) -> None:
    """Anything but a JSON object is refused."""
    with pytest.raises(RecordError, match=r"^\$: expected an object"):
        AccessRequest.from_dict(raw)


def test_grant_ending_before_it_starts_is_refused() -> None:
    """A grant's expires_at must be after starts_at."""
    _, grant = approved()
    body = grant.to_dict() | {"expires_at": grant.to_dict()["starts_at"]}
    with pytest.raises(RecordError, match=r"\$\.expires_at: must be after starts_at"):
        Grant.from_dict(body)


def test_revoked_grant_without_who_is_refused() -> None:
    """REVOKED needs revoked_by and revoked_at."""
    _, grant = approved()
    with pytest.raises(RecordError, match=r"\$\.revoked_at"):
        Grant.from_dict(grant.to_dict() | {"status": "revoked"})


def test_event_data_must_stay_flat() -> None:
    """Event data holds scalars and lists of strings, nothing nested."""
    body = through_json(pending().to_dict())
    event = {
        "type": "request_submitted",
        "at": "2024-05-06T10:00:00Z",
        "application": "a",
        "user": body["requester"]["user"],
        "actor": None,
        "request_id": "r-1",
        "grant_id": None,
        "data": {"nested": {"x": 1}},
    }
    with pytest.raises(RecordError, match=r"\$\.data\.nested"):
        Event.from_dict(event)


def test_event_data_cannot_be_changed_through_the_callers_dict() -> None:
    """An event freezes a copy of its data."""
    data: dict[str, Any] = {"reason": "first"}
    event = Event.from_dict(
        {
            "type": "grant_revoked",
            "at": "2024-05-06T10:00:00Z",
            "application": "a",
            "user": "u",
            "actor": None,
            "request_id": None,
            "grant_id": "g",
            "data": data,
        }
    )
    data["reason"] = "second"
    assert event.data["reason"] == "first"
    with pytest.raises(TypeError):
        event.data["reason"] = "third"  # type: ignore[index]


def test_encoding_refuses_a_naive_datetime() -> None:
    """A naive timestamp is never written as if it were UTC."""
    broken = replace(pending(), created_at=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="naive"):
        broken.to_dict()
