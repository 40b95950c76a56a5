"""What a notification is about, and who hears it: approvers before a decision, the requester
after one."""

from __future__ import annotations

from enum import Enum, StrEnum


class Topic(StrEnum):
    """Every kind of notification. The names are the ones channels list under `events`."""

    REQUEST_SUBMITTED = "request_submitted"
    REQUEST_EXPIRING = "request_expiring"
    REQUEST_APPROVED = "request_approved"
    REQUEST_DENIED = "request_denied"
    REQUEST_EXPIRED = "request_expired"
    GRANT_REVOKED = "grant_revoked"
    #: A request went unreviewed for `escalate_after`: the fallback approvers are told too.
    REQUEST_ESCALATED = "request_escalated"
    #: Someone granted themselves access in an emergency: every channel hears it (LOUD).
    BREAK_GLASS_USED = "break_glass_used"
    #: A break-glass use is past its `review_within` without a review.
    BREAK_GLASS_REVIEW_OVERDUE = "break_glass_review_overdue"
    #: An approver judged a break-glass use (justified or not; not also revokes it).
    BREAK_GLASS_REVIEWED = "break_glass_reviewed"
    #: Sent only by `countersign notify test`, never routed.
    TEST = "test"


class Audience(Enum):
    """Who a topic is meant for."""

    APPROVERS = "approvers"
    REQUESTER = "requester"
    OPERATORS = "operators"


AUDIENCES: dict[Topic, Audience] = {
    Topic.REQUEST_SUBMITTED: Audience.APPROVERS,
    Topic.REQUEST_EXPIRING: Audience.APPROVERS,
    Topic.REQUEST_APPROVED: Audience.REQUESTER,
    Topic.REQUEST_DENIED: Audience.REQUESTER,
    Topic.REQUEST_EXPIRED: Audience.REQUESTER,
    Topic.GRANT_REVOKED: Audience.REQUESTER,
    Topic.REQUEST_ESCALATED: Audience.APPROVERS,
    Topic.BREAK_GLASS_USED: Audience.APPROVERS,
    Topic.BREAK_GLASS_REVIEW_OVERDUE: Audience.APPROVERS,
    Topic.BREAK_GLASS_REVIEWED: Audience.REQUESTER,
    Topic.TEST: Audience.OPERATORS,
}

#: The topics a channel may list (every one but TEST).
ROUTABLE: frozenset[Topic] = frozenset(t for t in Topic if t is not Topic.TEST)

#: Topics every channel of the application hears, whatever its `events` list says.
LOUD: frozenset[Topic] = frozenset({Topic.BREAK_GLASS_USED})
#: Topics the fallback approvers (`escalate_to`) hear as well as the approvers.
ESCALATED_TOPICS: frozenset[Topic] = frozenset(
    {Topic.REQUEST_ESCALATED, Topic.BREAK_GLASS_REVIEW_OVERDUE}
)
