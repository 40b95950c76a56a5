"""The sweeping indexes of escalation and break-glass, written in the same MULTI as the record
they index (called from `writes`), so an index never disagrees with the record it lists.

Each score is the moment something becomes due, computed from the record alone: any replica
that writes the record writes the same entry (docs/adr/0016-escalation-exactly-once.md).
"""

from __future__ import annotations

from typing import Any

from app.adapters.store.keys import (
    BREAK_GLASS_OVERDUE_INDEX,
    BREAK_GLASS_UNREVIEWED_INDEX,
    ESCALATION_INDEX,
)
from app.core.approvals import AccessRequest, Grant
from app.core.approvals.escalation import due_at


def queue_escalation(pipe: Any, request: AccessRequest) -> None:
    """List `request` under when it escalates; unlist it once it cannot escalate any more
    (escalated, resolved, or opened under a policy without `escalate_after`)."""
    due = due_at(request)
    if due is None:
        pipe.zrem(ESCALATION_INDEX, request.id)
    else:
        pipe.zadd(ESCALATION_INDEX, {request.id: due.timestamp()})


def queue_break_glass(pipe: Any, grant: Grant) -> None:
    """List an unreviewed break-glass grant under its review deadline (and, until it has been
    reported overdue, in the overdue sweep's index); unlist it once reviewed."""
    state = grant.break_glass
    if state is None:
        return
    due = {grant.id: state.review_due_at.timestamp()}
    if state.reviewed:
        pipe.zrem(BREAK_GLASS_UNREVIEWED_INDEX, grant.id)
        pipe.zrem(BREAK_GLASS_OVERDUE_INDEX, grant.id)
        return
    pipe.zadd(BREAK_GLASS_UNREVIEWED_INDEX, due)
    if state.overdue_at is None:
        pipe.zadd(BREAK_GLASS_OVERDUE_INDEX, due)
    else:
        pipe.zrem(BREAK_GLASS_OVERDUE_INDEX, grant.id)
