"""Notifications of escalation and break-glass: break-glass reaches every channel of the
application whatever its event list, an escalation is also written to the fallback approvers,
and each topic has its own headline (and a break-glass notice carries the reason)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from app.core.approvals.break_glass import break_glass
from app.core.notify import Topic, Trigger, approver_emails, build_notice, route
from app.core.notify.routing import ChannelKind
from app.core.notify.wording import headline
from app.core.policy.emergency import BreakGlass, Escalation
from app.core.policy.model import Approver
from tests.core.approvals.people import ALICE, ALICE_AT_DESK, GOOD_REASON, NOW, approval, policy
from tests.core.notify.notices import PUBLIC_URL, channel, notice_of, submitted, trigger

FALLBACK = Escalation(after=timedelta(minutes=30), to=(Approver("email", "cto@example.com"),))
ESCALATING = policy(
    replace(approval(Approver("email", "lead@example.com")), escalation=FALLBACK),
    name="Escalating",
)
GLASS = replace(
    ESCALATING,
    break_glass=BreakGlass(
        who=(Approver("group", "engineers"),),
        max_duration=timedelta(hours=1),
        review_within=timedelta(hours=24),
    ),
)


def test_break_glass_reaches_a_channel_that_did_not_list_it() -> None:
    """Loud: a channel listing only approvals still hears of a break-glass use."""
    routes = [channel("outcomes", topics=frozenset({Topic.REQUEST_APPROVED}))]
    assert len(route(notice_of(Topic.BREAK_GLASS_USED), routes)) == 1
    assert route(notice_of(Topic.REQUEST_ESCALATED), routes) == ()


def test_break_glass_stays_within_the_channels_applications() -> None:
    """Every channel *of the application*: a channel for Grafana is not told."""
    routes = [channel("grafana-only", applications=frozenset({"grafana"}))]
    assert route(notice_of(Topic.BREAK_GLASS_USED), routes) == ()


def test_an_escalation_is_written_to_the_fallback_approvers_too() -> None:
    """escalate_to's e-mail addresses join the approvers' for escalation topics only."""
    assert approver_emails(ESCALATING.approval) == ("lead@example.com",)
    for topic in (Topic.REQUEST_ESCALATED, Topic.BREAK_GLASS_REVIEW_OVERDUE):
        assert approver_emails(ESCALATING.approval, topic=topic) == (
            "lead@example.com",
            "cto@example.com",
        )
    routes = [channel("mail", ChannelKind.SMTP, notify_approvers=True)]
    emails = approver_emails(ESCALATING.approval, topic=Topic.REQUEST_ESCALATED)
    (delivery,) = route(notice_of(Topic.REQUEST_ESCALATED), routes, approvers=emails)
    assert delivery.recipients == ("lead@example.com", "cto@example.com")


def test_each_new_topic_has_its_own_headline() -> None:
    """Headlines name what happened; break-glass says so first."""
    request = submitted()
    said = {
        topic: headline(
            build_notice(
                trigger(topic, request),
                request=request,
                grant=None,
                application_name="DB console",
                public_url=PUBLIC_URL,
            )
        )
        for topic in (
            Topic.REQUEST_ESCALATED,
            Topic.BREAK_GLASS_USED,
            Topic.BREAK_GLASS_REVIEW_OVERDUE,
            Topic.BREAK_GLASS_REVIEWED,
        )
    }
    assert said[Topic.BREAK_GLASS_USED].startswith("BREAK-GLASS: alice@example.com")
    assert "escalated" in said[Topic.REQUEST_ESCALATED]
    assert "overdue" in said[Topic.BREAK_GLASS_REVIEW_OVERDUE]
    assert len(set(said.values())) == 4


def test_a_break_glass_notice_carries_the_reason() -> None:
    """No request behind it: the justification comes from the grant."""
    grant = break_glass(
        grant_id="g-bg",
        application="db-console",
        policy=GLASS,
        identity=ALICE,
        requester=ALICE_AT_DESK,
        justification=GOOD_REASON,
        duration=None,
        current=None,
        now=NOW,
    ).grant
    notice = build_notice(
        Trigger(
            topic=Topic.BREAK_GLASS_USED,
            at=NOW,
            application="db-console",
            user=grant.user,
            grant_id=grant.id,
        ),
        request=None,
        grant=grant,
        application_name="DB console",
        public_url=PUBLIC_URL,
    )
    assert notice.justification == GOOD_REASON


def test_a_break_glass_notice_links_to_the_reviews_page() -> None:
    """Approvers are sent where they judge the use; the requester's review outcome has no
    request page to link to."""
    for topic, link in (
        (Topic.BREAK_GLASS_USED, PUBLIC_URL + "/break-glass/reviews"),
        (Topic.BREAK_GLASS_REVIEW_OVERDUE, PUBLIC_URL + "/break-glass/reviews"),
        (Topic.BREAK_GLASS_REVIEWED, None),
    ):
        notice = build_notice(
            Trigger(topic=topic, at=NOW, application="db-console", user="a", grant_id="g"),
            request=None,
            grant=None,
            application_name=None,
            public_url=PUBLIC_URL,
        )
        assert notice.link == link
