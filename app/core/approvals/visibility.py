"""Who may see a request or a grant, and who may review a request: one rule, used by the API
(through the approval service), by the pages, and by the review transition itself, so that
what is shown and what is accepted can never disagree.

A request or grant is shown to its requester or holder (the same issuer and subject), to the
approvers its policy lists, and to whoever oversees everything (an admin, or a service token
acting alone); anyone else is told "not found". Reviewing needs more: the policy the request
was made under, unchanged, an approver it lists, and never the requester (not even under
another token or e-mail case). Admins see everything but review nothing they are not listed for.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.approvals.errors import ApprovalError, ErrorCode
from app.core.approvals.escalation import effective_approval, escalated
from app.core.approvals.grant import Grant
from app.core.approvals.request import AccessRequest, RequestStatus
from app.core.context import Identity
from app.core.policy.model import Approval, Policy
from app.core.policy.policy_set import PolicySet


@dataclass(frozen=True, slots=True)
class Onlooker:
    """Whoever looks or acts: `identity` is the person (None for a service token acting
    alone), `via_token` whether a service token carries the call, `is_admin` whether the
    person is an admin. Scopes are checked before this is asked."""

    identity: Identity | None
    is_admin: bool = False
    via_token: bool = False


def oversees(onlooker: Onlooker) -> bool:
    """Admins, and service tokens acting for nobody, see (and may revoke) every record."""
    return onlooker.is_admin or (onlooker.via_token and onlooker.identity is None)


def policy_named(policies: PolicySet, application: str, name: str) -> Policy | None:
    """The policy a record names, as the current policy set has it (None once gone)."""
    app = policies.applications.get(application)
    return app.policy_named(name) if app is not None else None


def approves(onlooker: Onlooker, policy: Policy | None) -> bool:
    """Whether the onlooker is an approver `policy` lists (whatever the record's fingerprint:
    an approver still sees what was asked under an earlier version of the policy)."""
    identity = onlooker.identity
    if identity is None or policy is None or policy.approval is None:
        return False
    return policy.approval.is_approver(identity)


def approves_anything(onlooker: Onlooker, policies: PolicySet) -> bool:
    """Whether the onlooker has an inbox: an admin, or an approver of any policy."""
    return onlooker.is_admin or any(
        approves(onlooker, policy) or _fallback(onlooker, policy)
        for app in policies.applications.values()
        for policy in app.policies
    )


def _fallback(onlooker: Onlooker, policy: Policy) -> bool:
    # A fallback approver (`escalate_to`) has an inbox too: escalated requests land in it.
    identity, approval = onlooker.identity, policy.approval
    return identity is not None and approval is not None and approval.is_fallback_approver(identity)


def may_see_request(onlooker: Onlooker, request: AccessRequest, policies: PolicySet) -> bool:
    """Whether `request` is shown to the onlooker (else it is "not found")."""
    if oversees(onlooker):
        return True
    identity = onlooker.identity
    if identity is None:
        return False
    if request.requester.is_requester(identity):
        return True
    policy = policy_named(policies, request.application, request.policy)
    if escalated(request) and policy is not None and _fallback(onlooker, policy):
        return True  # escalated to them
    return approves(onlooker, policy)


def may_see_grant(onlooker: Onlooker, grant: Grant, policies: PolicySet) -> bool:
    """Whether `grant` is shown to the onlooker (else it is "not found")."""
    if oversees(onlooker):
        return True
    identity = onlooker.identity
    if identity is None:
        return False
    if grant.held_by(identity):
        return True
    return approves(onlooker, policy_named(policies, grant.application, grant.policy))


def may_revoke_as_approver(onlooker: Onlooker, grant: Grant, policies: PolicySet) -> bool:
    """Whether the onlooker revokes `grant` as an approver of the policy it names."""
    return approves(onlooker, policy_named(policies, grant.application, grant.policy))


def judging_approval(request: AccessRequest, *, reviewer: Identity, policy: Policy) -> Approval:
    """The approval requirement under which `reviewer` may review `request`, or the refusal.

    In this order: `policy` must be the one the request was made under, unchanged (a renamed
    or edited policy would bind the grant to a requirement nobody approved against; an older
    request without a fingerprint matches no policy), and still ask for approval; then the
    reviewer must not be the requester (`self-approval`) and must be listed
    (`not-an-approver`). The state of the request is judged after this, so a non-approver
    learns nothing about it.
    """
    if policy.name != request.policy:
        raise ApprovalError(ErrorCode.POLICY_MISMATCH, f"{policy.name!r} != {request.policy!r}")
    if not policy.fingerprint or policy.fingerprint != request.policy_fingerprint:
        raise ApprovalError(ErrorCode.POLICY_MISMATCH, "the approval requirement has changed")
    if policy.approval is None:
        raise ApprovalError(ErrorCode.POLICY_NEEDS_NO_APPROVAL, policy.name)
    if request.requester.same_person(reviewer):
        raise ApprovalError(ErrorCode.SELF_APPROVAL, "requesters cancel, they do not review")
    approval = effective_approval(request, policy.approval)  # + escalate_to once escalated
    if not approval.is_approver(reviewer):
        raise ApprovalError(ErrorCode.NOT_AN_APPROVER, policy.name)
    return approval


def may_review(onlooker: Onlooker, request: AccessRequest, policies: PolicySet) -> bool:
    """Whether to offer `request` for review (the inbox, the review forms): still PENDING, and
    a review by the onlooker would pass `judging_approval`. The review itself judges again."""
    identity = onlooker.identity
    if identity is None or request.status is not RequestStatus.PENDING:
        return False
    policy = policy_named(policies, request.application, request.policy)
    if policy is None:
        return False
    try:
        judging_approval(request, reviewer=identity, policy=policy)
    except ApprovalError:
        return False
    return True
