"""Planning notifications: the planner gathers the notice from the records and the current
policy set, and routes it, without any I/O of its own (a fake record store stands in)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from app.core.approvals import AccessRequest, Grant
from app.core.notify import ChannelKind, Route, Topic, Trigger
from app.core.policy.policy_set import PolicySet
from app.services.notifications import NotificationPlanner, Plan
from tests.core.notify.notices import submitted
from tests.support.workflow import shipped_policies

PUBLIC_URL = "https://countersign.example.com"
EVERYTHING = frozenset(t for t in Topic if t is not Topic.TEST)


class Records:
    """A fake store holding one request; counts the reads."""

    def __init__(self, request: AccessRequest) -> None:
        self.request = request
        self.reads = 0

    async def load_request(self, request_id: str) -> AccessRequest | None:
        self.reads += 1
        return self.request if request_id == self.request.id else None

    async def load_grant(self, grant_id: str) -> Grant | None:
        self.reads += 1
        return None


def grafana_request() -> AccessRequest:
    """ALICE's pending Grafana request under the shipped policy."""
    return replace(submitted(), application="grafana", policy="Engineers, second opinion required")


def plan(routes: list[Route], records: Records, policies: PolicySet | None = None) -> Plan:
    shipped = policies or shipped_policies()
    planner = NotificationPlanner(
        policies=lambda: shipped, records=records, routes=routes, public_url=PUBLIC_URL
    )
    request = records.request
    trigger = Trigger(
        topic=Topic.REQUEST_SUBMITTED,
        at=request.created_at,
        application=request.application,
        user=request.user,
        request_id=request.id,
    )
    return asyncio.run(planner.plan(trigger))


def test_a_submit_is_planned_for_the_webhook_and_the_email_approvers() -> None:
    """Grafana's policy names cto@example.com: the e-mail channel writes there."""
    routes = [
        Route("hook", ChannelKind.WEBHOOK, EVERYTHING),
        Route("mail", ChannelKind.SMTP, EVERYTHING, notify_approvers=True),
    ]
    result = plan(routes, Records(grafana_request()))
    assert [(d.channel, d.recipients) for d in result.deliveries] == [
        ("hook", ()),
        ("mail", ("cto@example.com",)),
    ]
    assert result.notice.application_name == "Grafana"
    assert result.order_key == "req_abc"


def test_nothing_is_read_when_no_channel_wants_the_event() -> None:
    """A submit with only outcome channels costs no record reads."""
    records = Records(grafana_request())
    routes = [Route("hook", ChannelKind.WEBHOOK, frozenset({Topic.REQUEST_APPROVED}))]
    assert plan(routes, records).deliveries == ()
    assert records.reads == 0


def test_an_application_gone_from_the_policies_still_notifies() -> None:
    """After a reload removed the application, the notice names it by id, with no approvers."""
    routes = [
        Route("hook", ChannelKind.WEBHOOK, EVERYTHING),
        Route("mail", ChannelKind.SMTP, EVERYTHING, notify_approvers=True),
    ]
    result = plan(routes, Records(grafana_request()), PolicySet.of([]))
    assert [d.channel for d in result.deliveries] == ["hook"]
    assert result.notice.application_name == "grafana"
