"""Which events notify, and when approvers are warned that a request is about to expire."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.approvals import Event, EventType
from app.core.notify import Topic, Trigger, expiry_warning, needs_expiry_warning
from tests.core.approvals.people import NOW
from tests.core.notify.notices import submitted

NOTIFYING = {
    EventType.REQUEST_SUBMITTED: Topic.REQUEST_SUBMITTED,
    EventType.REQUEST_APPROVED: Topic.REQUEST_APPROVED,
    EventType.REQUEST_DENIED: Topic.REQUEST_DENIED,
    EventType.REQUEST_EXPIRED: Topic.REQUEST_EXPIRED,
    EventType.GRANT_REVOKED: Topic.GRANT_REVOKED,
    EventType.REQUEST_ESCALATED: Topic.REQUEST_ESCALATED,
    EventType.BREAK_GLASS_USED: Topic.BREAK_GLASS_USED,
    EventType.BREAK_GLASS_REVIEWED: Topic.BREAK_GLASS_REVIEWED,
    EventType.BREAK_GLASS_REVIEW_OVERDUE: Topic.BREAK_GLASS_REVIEW_OVERDUE,
}
WARNING = timedelta(minutes=15)


@pytest.mark.parametrize("kind", list(EventType))
def test_only_submits_and_outcomes_notify(kind: EventType) -> None:
    """Reviews, issued grants, recorded reasons and a holder ending early notify nobody."""
    event = Event(type=kind, at=NOW, application="grafana", user="alice@example.com")
    trigger = Trigger.from_event(event)
    assert (trigger.topic if trigger else None) == NOTIFYING.get(kind)


def test_a_revocation_carries_its_reason() -> None:
    """The reason the approver gave reaches the requester."""
    event = Event(
        type=EventType.GRANT_REVOKED,
        at=NOW,
        application="grafana",
        user="alice@example.com",
        actor="bob@example.com",
        grant_id="grt_1",
        data={"reason": "incident over"},
    )
    trigger = Trigger.from_event(event)
    assert trigger is not None
    assert (trigger.reason, trigger.order_key) == ("incident over", "grt_1")


def test_a_trigger_survives_its_json_form() -> None:
    """Warnings are stored in the outbox as JSON and read back unchanged."""
    trigger = expiry_warning(submitted(), now=NOW)
    assert Trigger.from_dict(trigger.to_dict()) == trigger


def test_approvers_are_warned_inside_the_window() -> None:
    """Less than the warning time left: warn."""
    request = submitted()
    assert needs_expiry_warning(request, now=request.expires_at - WARNING, warning=WARNING)


def test_no_warning_before_the_window() -> None:
    """More than the warning time left: not yet."""
    request = submitted()
    soon = request.expires_at - WARNING - timedelta(seconds=1)
    assert not needs_expiry_warning(request, now=soon, warning=WARNING)


def test_no_warning_once_expired() -> None:
    """An expired request is past warning."""
    request = submitted()
    assert not needs_expiry_warning(request, now=request.expires_at, warning=WARNING)


def test_no_warning_for_a_request_shorter_than_the_window() -> None:
    """A request that was open for less than the warning time from the start is not warned."""
    request = submitted()
    whole_life = request.expires_at - request.created_at
    assert not needs_expiry_warning(request, now=request.created_at, warning=whole_life)


def test_a_zero_window_turns_warnings_off() -> None:
    """NOTIFY_EXPIRY_WARNING=0."""
    request = submitted()
    near_end = request.expires_at - timedelta(seconds=1)
    assert not needs_expiry_warning(request, now=near_end, warning=timedelta(0))
