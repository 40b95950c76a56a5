"""Notifications about planned windows and extensions: approvers see when a window begins and
that a request asks for more time; the requester hears that access was extended."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from app.core.notify import Topic, build_notice, mail, webhook_payload
from app.core.notify.wording import facts, headline
from tests.core.approvals.people import NOW
from tests.core.notify.notices import PUBLIC_URL, submitted, trigger

TONIGHT = NOW + timedelta(hours=12)


def test_approvers_see_when_a_planned_window_begins() -> None:
    """The submitted notice has "Access from" with the window's start; the webhook carries it."""
    request = replace(submitted(), starts_at=TONIGHT)
    notice = build_notice(
        trigger(Topic.REQUEST_SUBMITTED, request),
        request=request,
        grant=None,
        application_name="Production database console",
        public_url=PUBLIC_URL,
    )
    assert ("Access from", "2024-05-06 22:00 UTC") in facts(notice)
    assert webhook_payload(notice, delivery_id="1-0")["starts_at"] == "2024-05-06T22:00:00Z"


def test_an_extension_says_more_time_in_every_channel() -> None:
    """Headline, e-mail subject and facts say it is more time on existing access."""
    request = replace(submitted(), extends="grt_1")
    notice = build_notice(
        trigger(Topic.REQUEST_SUBMITTED, request),
        request=request,
        grant=None,
        application_name="Production database console",
        public_url=PUBLIC_URL,
    )
    assert headline(notice) == "alice@example.com asks for more time on Production database console"
    assert "more time" in mail(notice).subject
    rows = dict(facts(notice))
    assert rows["Extends grant"] == "grt_1"
    assert rows["Requested extra time"] == "2h"
    approved = replace(notice, topic=Topic.REQUEST_APPROVED)
    assert (
        headline(approved)
        == "alice@example.com's access to Production database console was extended"
    )
