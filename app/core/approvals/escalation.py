"""Escalation: a pending request that has had no review for the policy's `escalate_after`
becomes reviewable by its fallback approvers (`escalate_to`), who are told.

The deadline is a fact of the record (`due_at`), so every replica computes the same one and the
store can index it; `escalate` is idempotent, so however many replicas sweep the same due
request, one compare-and-set writes the `request_escalated` event and the others find nothing
to do (docs/adr/0016-escalation-exactly-once.md).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from app.core.approvals.checks import require_aware
from app.core.approvals.codec import encode_seconds, encode_time
from app.core.approvals.emergency_records import EscalationState
from app.core.approvals.events import EventType, RequestTransition
from app.core.approvals.request import AccessRequest, RequestStatus
from app.core.approvals.requesting import request_event
from app.core.policy.model import Approval, Approver, Policy


def schedule(transition: RequestTransition, approval: Approval) -> RequestTransition:
    """A just-submitted request, set to escalate when its policy says so (else as it is).

    A reused open request (no events) keeps the schedule it was opened with."""
    rule = approval.escalation
    if rule is None or not transition.changed or transition.request.escalation is not None:
        return transition
    request = replace(transition.request, escalation=EscalationState(after=rule.after))
    return replace(transition, request=request)


def due_at(request: AccessRequest) -> datetime | None:
    """When `request` escalates: `after` from its last review (or from when it was made),
    if it is PENDING and has not escalated yet; else None."""
    state = request.escalation
    if state is None or state.escalated_at is not None:
        return None
    if request.status is not RequestStatus.PENDING:
        return None
    last = max((r.at for r in request.reviews), default=request.created_at)
    return last + state.after


def escalated(request: AccessRequest) -> bool:
    """Whether the fallback approvers may review `request`."""
    return request.escalation is not None and request.escalation.escalated_at is not None


def escalate(request: AccessRequest, *, policy: Policy | None, now: datetime) -> RequestTransition:
    """PENDING, not yet escalated, and due at `now` (but not past its own expiry) -> escalated.

    Idempotent: anything else comes back unchanged with no events, which is how a second
    replica's sweep, or one that lost the race to a review, writes nothing. `policy` is the
    one the request names, as the current set has it; the fallback approvers it lists go into
    the event (none when it was removed or changed: then nobody may review the request)."""
    now = require_aware(now)
    due = due_at(request)
    state = request.escalation
    if due is None or state is None or now < due or now >= request.expires_at:
        return RequestTransition(request, ())
    escalated_request = replace(
        request,
        escalation=replace(state, escalated_at=now),
        version=request.version + 1,
    )
    event = request_event(
        escalated_request,
        EventType.REQUEST_ESCALATED,
        now,
        data={
            "escalate_to": _labels(_fallback(request, policy)),
            "after": encode_seconds(state.after),
            "due_at": encode_time(due),
        },
    )
    return RequestTransition(escalated_request, (event,))


def effective_approval(request: AccessRequest, approval: Approval) -> Approval:
    """The approval requirement a review of `request` is judged and counted under: once it has
    escalated, the fallback approvers are listed too (adding people, never lowering a count)."""
    if not escalated(request) or approval.escalation is None:
        return approval
    return replace(approval, approvers=(*approval.approvers, *approval.escalation.to))


def _fallback(request: AccessRequest, policy: Policy | None) -> tuple[Approver, ...]:
    if policy is None or policy.approval is None or policy.approval.escalation is None:
        return ()
    if policy.fingerprint != request.policy_fingerprint:
        return ()
    return policy.approval.escalation.to


def _labels(approvers: tuple[Approver, ...]) -> tuple[str, ...]:
    return tuple(f"{a.kind}:{a.value}" for a in approvers)
