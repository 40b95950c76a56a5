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
    Topic.TEST: Audience.OPERATORS,
}

#: The topics a channel may list (every one but TEST).
ROUTABLE: frozenset[Topic] = frozenset(t for t in Topic if t is not Topic.TEST)
