"""Response models of escalation and break-glass: a request's escalation, a grant's
break-glass review, and what using break-glass produced."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from app.core.approvals import AccessRequest, Grant
from app.core.approvals.emergency_records import Verdict
from app.core.approvals.escalation import due_at


class EscalationOut(BaseModel):
    """The request's policy has fallback approvers: `escalates_at` is when they may review it
    if nobody has by then (null once escalated or resolved); `escalated_at` when they could."""

    escalates_at: datetime | None
    escalated_at: datetime | None

    @classmethod
    def maybe(cls, request: AccessRequest) -> EscalationOut | None:
        """None for a request whose policy has no `escalate_after`."""
        state = request.escalation
        if state is None:
            return None
        return cls(escalates_at=due_at(request), escalated_at=state.escalated_at)


class BreakGlassOut(BaseModel):
    """A break-glass grant's after-the-fact review: due by `review_due_at`; `verdict` once an
    approver judged it (`not-justified` revoked it if it was still live); `overdue_at` when
    it was reported overdue."""

    review_due_at: datetime
    verdict: Verdict | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    comment: str | None
    overdue_at: datetime | None

    @classmethod
    def maybe(cls, grant: Grant) -> BreakGlassOut | None:
        """None for a grant that is not a break-glass use."""
        state = grant.break_glass
        if state is None:
            return None
        return cls(
            review_due_at=state.review_due_at,
            verdict=state.verdict,
            reviewed_by=state.reviewed_by,
            reviewed_at=state.reviewed_at,
            comment=state.comment,
            overdue_at=state.overdue_at,
        )
