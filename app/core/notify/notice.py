"""A notice: every fact one notification shows, gathered from its trigger and the records.

Only facts people need to decide or to know the outcome: who, what, why, from where, for how
long, and a link. Never a token, a cookie or anything that grants access by itself: the link
names the request, and the approval page still requires a signed-in, eligible approver.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from app.core.approvals.grant import Grant
from app.core.approvals.request import AccessRequest
from app.core.notify.topics import AUDIENCES, Audience, Topic
from app.core.notify.trigger import Trigger

#: Where a request's pages live under PUBLIC_URL: the approve/deny forms for an eligible
#: approver, and the status page for the requester.
REVIEW_PAGE = "/inbox/{id}"
STATUS_PAGE = "/request/{id}"
#: Where approvers judge break-glass uses.
BREAK_GLASS_PAGE = "/break-glass/reviews"
BREAK_GLASS_TOPICS = frozenset({Topic.BREAK_GLASS_USED, Topic.BREAK_GLASS_REVIEW_OVERDUE})


def request_link(public_url: str, request_id: str, *, for_approvers: bool) -> str:
    """The absolute URL of a request's page: its id and nothing else."""
    page = REVIEW_PAGE if for_approvers else STATUS_PAGE
    return public_url.rstrip("/") + page.format(id=quote(request_id, safe=""))


#: Topics where the trigger's actor decided something (the others: the requester or time).
_DECISIONS = frozenset(
    {
        Topic.REQUEST_APPROVED,
        Topic.REQUEST_DENIED,
        Topic.GRANT_REVOKED,
        Topic.BREAK_GLASS_REVIEWED,
    }
)


@dataclass(frozen=True, slots=True)
class Notice:
    """What one notification says; every field a renderer may show, None when unknown."""

    topic: Topic
    at: datetime
    application: str
    application_name: str
    user: str
    request_id: str | None = None
    grant_id: str | None = None
    link: str | None = None
    requester_email: str | None = None
    justification: str | None = None
    client_ip: str | None = None
    country: str | None = None
    device_managed: bool | None = None
    device_id: str | None = None
    device_tags: tuple[str, ...] = ()
    requested_duration: timedelta | None = None
    expires_at: datetime | None = None
    decided_by: str | None = None
    comment: str | None = None
    grant_expires_at: datetime | None = None
    #: A planned window's start (the request's `starts_at`, or the grant's when it is later
    #: than the notice): approvers and the requester see when access would begin.
    starts_at: datetime | None = None
    #: The grant an extension request asks more time on.
    extends: str | None = None


def build_notice(
    trigger: Trigger,
    *,
    request: AccessRequest | None,
    grant: Grant | None,
    application_name: str | None,
    public_url: str,
) -> Notice:
    """Gather the notice for `trigger` from the request and grant it concerns (either may be
    gone past retention: the notice then shows what the trigger itself carries)."""
    request_id = trigger.request_id or (grant.request_id if grant else None)
    notice = Notice(
        topic=trigger.topic,
        at=trigger.at,
        application=trigger.application,
        application_name=application_name or trigger.application,
        user=trigger.user,
        request_id=request_id,
        grant_id=trigger.grant_id or (request.grant_id if request else None),
        link=_link(public_url, request_id, trigger.topic),
        requester_email=_email_of(trigger.user),
        decided_by=trigger.actor if trigger.topic in _DECISIONS else None,
        comment=trigger.reason,
    )
    fields: dict[str, Any] = {}
    if request is not None:
        requester = request.requester
        fields.update(
            requester_email=requester.email or notice.requester_email,
            justification=request.justification,
            client_ip=requester.client_ip,
            country=requester.country,
            device_managed=requester.device.managed,
            device_id=requester.device.device_id,
            device_tags=tuple(sorted(requester.device.tags)),
            requested_duration=request.requested_duration,
            expires_at=request.expires_at,
            starts_at=request.starts_at,
            extends=request.extends,
        )
        if trigger.topic in (Topic.REQUEST_APPROVED, Topic.REQUEST_DENIED):
            fields.update(
                decided_by=trigger.actor or request.resolved_by,
                comment=request.resolution_comment,
            )
    if grant is not None:
        fields["grant_expires_at"] = grant.expires_at
        if request is None and grant.justification:  # break-glass: the reason is the grant's
            fields["justification"] = grant.justification
        if grant.starts_at > trigger.at:
            fields["starts_at"] = grant.starts_at
        if trigger.topic is Topic.GRANT_REVOKED:
            fields.update(decided_by=grant.revoked_by, comment=grant.revoke_reason)
    return replace(notice, **fields)


def _link(public_url: str, request_id: str | None, topic: Topic) -> str | None:
    if request_id is None:
        # A break-glass use has no request: its approvers judge it on the reviews page.
        return public_url.rstrip("/") + BREAK_GLASS_PAGE if topic in BREAK_GLASS_TOPICS else None
    return request_link(
        public_url, request_id, for_approvers=AUDIENCES[topic] is Audience.APPROVERS
    )


def _email_of(user: str) -> str | None:
    """A user name that is an email address (the usual case: tokens carry one)."""
    return user if "@" in user and " " not in user else None
