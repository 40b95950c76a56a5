"""The review controls a request's Slack message shows, from the policy in force now: the
same choices when the message is first sent and each time it is updated in place."""

from __future__ import annotations

from app.adapters.step_up import StepUpLinks
from app.core.approvals import AccessRequest
from app.core.approvals.visibility import policy_named
from app.core.notify.slack import SlackReview, review_controls
from app.core.policy.policy_set import PolicySet


def controls_for(
    request: AccessRequest, policies: PolicySet, links: StepUpLinks
) -> SlackReview | None:
    """Approve/Deny for `request`, or None when its policy no longer asks for approval (the
    message then only links to the request)."""
    policy = policy_named(policies, request.application, request.policy)
    if policy is None or policy.approval is None:
        return None
    need = policy.approval.reviewers_need
    link = (
        links.sign_in_to_review(request.id, mfa=need.mfa, max_age=need.max_age_seconds)
        if need is not None
        else links.review_page(request.id)
    )
    return review_controls(
        request.id, policy.approval, requested=request.requested_duration, review_link=link
    )
