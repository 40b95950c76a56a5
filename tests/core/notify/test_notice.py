"""A notice gathers the facts from the request and grant, and links to the request by id only."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from app.core.notify import Topic, Trigger, build_notice
from tests.core.notify.notices import PUBLIC_URL, notice_of, submitted


def test_a_submit_notice_carries_what_approvers_need() -> None:
    """Requester, application, justification, IP, country, device and requested duration."""
    notice = notice_of(Topic.REQUEST_SUBMITTED)
    assert notice.user == "alice@example.com"
    assert notice.application_name == "Production database console"
    assert notice.justification == "INC-4711 database failover"
    assert (notice.client_ip, notice.country) == ("192.0.2.10", "FR")
    assert (notice.device_managed, notice.device_id, notice.device_tags) == (
        True,
        "d-7",
        ("disk-encrypted",),
    )
    assert notice.requested_duration == timedelta(hours=2)


def test_approvers_are_linked_to_the_review_page() -> None:
    """A submit links to the approver's page for the request."""
    assert notice_of(Topic.REQUEST_SUBMITTED).link == f"{PUBLIC_URL}/inbox/req_abc"


def test_the_requester_is_linked_to_the_status_page() -> None:
    """An outcome links to the requester's status page."""
    assert notice_of(Topic.REQUEST_APPROVED).link == f"{PUBLIC_URL}/request/r-1"


@pytest.mark.parametrize("topic", [t for t in Topic if t is not Topic.TEST])
def test_links_carry_the_request_id_and_nothing_else(topic: Topic) -> None:
    """No query, no fragment: the link grants nothing by itself."""
    link = notice_of(topic).link
    assert link is not None
    parts = urlsplit(link)
    assert (parts.query, parts.fragment) == ("", "")
    assert parts.path.rsplit("/", 1)[1] in ("req_abc", "r-1")


def test_an_approval_notice_names_the_approver_and_the_end_of_access() -> None:
    """The requester learns who approved and until when."""
    notice = notice_of(Topic.REQUEST_APPROVED)
    assert notice.decided_by == "bob@example.com"
    assert notice.grant_expires_at is not None


def test_without_records_the_notice_shows_what_the_trigger_carries() -> None:
    """A request gone past retention still yields a notice: who, what and the link."""
    request = submitted()
    trigger = Trigger(
        topic=Topic.REQUEST_EXPIRED,
        at=request.expires_at,
        application="db-console",
        user="alice@example.com",
        request_id=request.id,
    )
    notice = build_notice(
        trigger, request=None, grant=None, application_name=None, public_url=PUBLIC_URL
    )
    assert (notice.application_name, notice.requester_email, notice.justification) == (
        "db-console",
        "alice@example.com",
        None,
    )
    assert notice.link == f"{PUBLIC_URL}/request/{request.id}"


def test_a_submit_names_no_decider() -> None:
    """The requester asking is not a decision."""
    assert notice_of(Topic.REQUEST_SUBMITTED).decided_by is None
