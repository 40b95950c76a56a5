"""The Slack message of a request after someone reviewed it from Slack: the same message,
updated in place for everyone in the channel, saying where the request stands now.

Built from the request record (not from the original message, which Slack sends back but a
modal does not): who asked, for what and why, then the outcome, and the review controls only
while the request is still pending. User-supplied text is escaped as in core.notify.slack.
"""

from __future__ import annotations

from typing import Any

from app.core.approvals.request import AccessRequest, RequestStatus, ReviewDecision
from app.core.durations import format_duration
from app.core.notify.slack import SlackReview, escape, review_block
from app.core.notify.wording import clip, one_line


def _status_line(request: AccessRequest) -> str:
    """One line saying where the request stands."""
    status = request.status
    by = escape(one_line(request.resolved_by or "someone"))
    if status is RequestStatus.APPROVED:
        chosen = [
            r.duration
            for r in request.reviews
            if r.decision is ReviewDecision.APPROVE and r.duration is not None
        ]
        length = f" for {format_duration(min(chosen))}" if chosen else ""
        return f":white_check_mark: *Approved* by {by}{length}"
    if status is RequestStatus.DENIED:
        return f":no_entry: *Denied* by {by}"
    if status is RequestStatus.EXPIRED:
        return ":hourglass: *Expired* without a decision"
    if status is RequestStatus.CANCELLED:
        return ":leftwards_arrow_with_hook: *Cancelled* by the requester"
    approvers = [r.reviewer for r in request.reviews if r.decision is ReviewDecision.APPROVE]
    if not approvers:
        return "*Pending*"
    names = ", ".join(escape(one_line(a)) for a in approvers)
    return f"*Pending*: approved so far by {names}; more approvals are needed"


def outcome_message(
    request: AccessRequest,
    *,
    application_name: str,
    link: str,
    review: SlackReview | None,
) -> dict[str, Any]:
    """The message replacing the original one (`replace_original`): `review` is shown only
    while the request is pending."""
    user = escape(one_line(request.user))
    title = f"{user}'s request for {escape(one_line(application_name))}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
    ]
    if request.justification:
        quoted = "\n".join(f">{line}" for line in escape(clip(request.justification)).splitlines())
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Justification*\n{quoted}"}}
        )
    status = _status_line(request)
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": status}})
    if request.status is RequestStatus.DENIED and request.resolution_comment:
        reason = f"*Reason*\n>{escape(clip(one_line(request.resolution_comment)))}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": reason}})
    if review is not None and request.status is RequestStatus.PENDING:
        blocks.append(review_block(review))
    button = {"type": "button", "text": {"type": "plain_text", "text": "View the request"}}
    blocks.append({"type": "actions", "elements": [{**button, "url": link}]})
    context = f"Countersign · request {escape(request.id)}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    text = f"{title}: {request.status.value}"
    return {"replace_original": True, "text": text, "blocks": blocks}
