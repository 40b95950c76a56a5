"""Notices built the way the notifier builds them: from real transitions of ALICE's request.

The request is for the database console under a policy BOB's SRE leads and the CTO (by e-mail)
approve; time is the pinned NOW.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from app.core.approvals import AccessRequest, Grant, submit
from app.core.notify import Notice, Route, Topic, Trigger, build_notice
from app.core.notify.routing import ChannelKind
from app.core.policy.model import Approver
from tests.core.approvals.people import (
    ALICE_AT_DESK,
    GOOD_REASON,
    NOW,
    approval,
    approved,
    policy,
)

PUBLIC_URL = "https://countersign.example.com"
LEADS_AND_CTO = policy(
    approval(Approver("group", "sre-leads"), Approver("email", "cto@example.com"))
)
NASTY_REASON = "INC-1 <!channel> <script>alert(1)</script>\nline two & <https://evil.example|click>"


def submitted(justification: str = GOOD_REASON) -> AccessRequest:
    """ALICE's pending request, asking for two hours."""
    return submit(
        request_id="req_abc",
        application="db-console",
        policy=LEADS_AND_CTO,
        requester=ALICE_AT_DESK,
        justification=justification,
        requested_duration=timedelta(hours=2),
        now=NOW,
    ).request


def trigger(topic: Topic, request: AccessRequest, **changes: object) -> Trigger:
    """A trigger about `request`."""
    base = Trigger(
        topic=topic,
        at=NOW,
        application=request.application,
        user=request.user,
        actor=request.user,
        request_id=request.id,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def notice_of(topic: Topic, *, justification: str = GOOD_REASON) -> Notice:
    """The notice for `topic` on ALICE's request (approved by BOB for the outcome topics)."""
    if topic is Topic.REQUEST_APPROVED:
        request, grant = approved_request()
        return build_notice(
            trigger(topic, request, actor="bob@example.com", grant_id=grant.id),
            request=request,
            grant=grant,
            application_name="Production database console",
            public_url=PUBLIC_URL,
        )
    request = submitted(justification)
    return build_notice(
        trigger(topic, request),
        request=request,
        grant=None,
        application_name="Production database console",
        public_url=PUBLIC_URL,
    )


def approved_request() -> tuple[AccessRequest, Grant]:
    """ALICE's request approved by BOB, with its grant."""
    return approved(LEADS_AND_CTO)


def channel(name: str, kind: ChannelKind = ChannelKind.WEBHOOK, **changes: object) -> Route:
    """A channel rule that hears everything unless told otherwise."""
    base = Route(channel=name, kind=kind, topics=frozenset(Topic) - {Topic.TEST})
    return replace(base, **changes)  # type: ignore[arg-type]
