"""The second opinion as pure transitions: requests, reviews and grants (docs/architecture.md §7).

Every transition takes the current value and `now`, and returns the next value plus the events
it caused; the store saves both with a compare-and-set on `version`.
"""

from app.core.approvals.codec import RecordError
from app.core.approvals.errors import ApprovalError, Category, ErrorCode, StepUpRequiredError
from app.core.approvals.events import (
    Event,
    EventType,
    GrantTransition,
    RequestTransition,
    through_token,
)
from app.core.approvals.grant import Grant, GrantKind, GrantStatus
from app.core.approvals.granting import expire_grant, in_force, justify, revoke
from app.core.approvals.person import Person, Scope
from app.core.approvals.quorum import GroupCount, Tally, tally
from app.core.approvals.request import (
    AccessRequest,
    Requester,
    RequestStatus,
    Review,
    ReviewDecision,
)
from app.core.approvals.requesting import cancel, expire_request, reuse_open, submit
from app.core.approvals.reviewing import review

__all__ = [
    "AccessRequest",
    "ApprovalError",
    "Category",
    "ErrorCode",
    "Event",
    "EventType",
    "Grant",
    "GrantKind",
    "GrantStatus",
    "GrantTransition",
    "GroupCount",
    "Person",
    "RecordError",
    "RequestStatus",
    "RequestTransition",
    "Requester",
    "Review",
    "ReviewDecision",
    "Scope",
    "StepUpRequiredError",
    "Tally",
    "cancel",
    "expire_grant",
    "expire_request",
    "in_force",
    "justify",
    "reuse_open",
    "review",
    "revoke",
    "submit",
    "tally",
    "through_token",
]
