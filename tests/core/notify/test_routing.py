"""Who hears what: approvers before a decision, the requester after one, each channel only
about its applications and events."""

from __future__ import annotations

from app.core.notify import Topic, approver_emails, route
from app.core.notify.routing import ChannelKind
from tests.core.notify.notices import LEADS_AND_CTO, channel, notice_of

SMTP = ChannelKind.SMTP
APPROVERS = approver_emails(LEADS_AND_CTO.approval)


def test_approvers_listed_by_email_are_the_policys_email_entries() -> None:
    """Groups cannot be enumerated; the policy's e-mail approvers can."""
    assert APPROVERS == ("cto@example.com",)


def test_every_channel_that_lists_the_event_hears_of_a_submit() -> None:
    """A webhook and a Slack channel each get one delivery."""
    routes = [channel("hook"), channel("slack", ChannelKind.SLACK)]
    deliveries = route(notice_of(Topic.REQUEST_SUBMITTED), routes)
    assert [(d.channel, d.kind) for d in deliveries] == [
        ("hook", ChannelKind.WEBHOOK),
        ("slack", ChannelKind.SLACK),
    ]


def test_a_channel_hears_only_of_its_applications() -> None:
    """A channel for Grafana says nothing about the database console."""
    routes = [channel("grafana-only", applications=frozenset({"grafana"}))]
    assert route(notice_of(Topic.REQUEST_SUBMITTED), routes) == ()


def test_a_channel_hears_only_of_its_events() -> None:
    """A channel listing only outcomes is not told of a submit."""
    routes = [channel("outcomes", topics=frozenset({Topic.REQUEST_APPROVED}))]
    assert route(notice_of(Topic.REQUEST_SUBMITTED), routes) == ()
    assert len(route(notice_of(Topic.REQUEST_APPROVED), routes)) == 1


def test_email_approvers_are_written_to_on_submit() -> None:
    """notify_approvers writes to the approvers the policy names by e-mail."""
    routes = [channel("mail", SMTP, notify_approvers=True)]
    (delivery,) = route(notice_of(Topic.REQUEST_SUBMITTED), routes, approvers=APPROVERS)
    assert delivery.recipients == ("cto@example.com",)


def test_the_requester_is_never_written_to_as_an_approver() -> None:
    """Even when the policy lists the requester's own address, they are not asked to approve."""
    routes = [channel("mail", SMTP, notify_approvers=True)]
    approvers = ("ALICE@example.com", "cto@example.com")
    (delivery,) = route(notice_of(Topic.REQUEST_SUBMITTED), routes, approvers=approvers)
    assert delivery.recipients == ("cto@example.com",)


def test_the_requester_hears_the_outcome() -> None:
    """notify_requester writes to the requester when the request is decided."""
    routes = [channel("mail", SMTP, notify_requester=True)]
    (delivery,) = route(notice_of(Topic.REQUEST_APPROVED), routes)
    assert delivery.recipients == ("alice@example.com",)


def test_the_requester_is_not_sent_the_approvers_message() -> None:
    """A requester-only e-mail channel makes no delivery on submit."""
    routes = [channel("mail", SMTP, notify_requester=True)]
    assert route(notice_of(Topic.REQUEST_SUBMITTED), routes, approvers=APPROVERS) == ()


def test_fixed_addresses_hear_every_event_listed_once() -> None:
    """`to` addresses get every listed event; an address listed twice is written to once."""
    routes = [
        channel("mail", SMTP, to=("leads@example.com",), notify_approvers=True),
    ]
    approvers = ("cto@example.com", "Leads@example.com")
    (delivery,) = route(notice_of(Topic.REQUEST_SUBMITTED), routes, approvers=approvers)
    assert delivery.recipients == ("leads@example.com", "cto@example.com")
    (outcome,) = route(notice_of(Topic.REQUEST_APPROVED), routes, approvers=approvers)
    assert outcome.recipients == ("leads@example.com",)
