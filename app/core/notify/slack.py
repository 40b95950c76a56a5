"""A Slack message (blocks) for an incoming webhook.

Everything a user typed is escaped by Slack's rules (`&`, `<`, `>` become entities), so a
justification cannot mention `<!channel>`, a user, or hide a link; only the request link is a
real link, in a button.

With review controls (`SlackReview`, for an interactive channel), a new request's message
also carries Approve buttons, one per duration the policy offers, and Deny (which opens a
modal asking why). When the policy asks approvers for a fresh sign-in (step-up), Slack cannot
prove one: the Approve button says so and links to the review page instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.core.durations import format_duration
from app.core.notify.notice import Notice
from app.core.notify.wording import action_label, clip, facts, for_approvers, headline
from app.core.policy.model import Approval

#: The block holding the review controls; the interactivity endpoint replaces it.
REVIEW_BLOCK = "countersign_review"
#: Approve buttons' action ids start with this (Slack wants them unique in a message).
APPROVE_ACTION = "countersign_approve"
DENY_ACTION = "countersign_deny"
#: The callback id of the deny modal.
DENY_VIEW = "countersign_deny"
#: The most Approve buttons a message shows.
MAX_CHOICES = 3


@dataclass(frozen=True, slots=True)
class SlackReview:
    """The review controls of one request's message: the durations an approver may pick,
    and, when the policy needs a step-up sign-in, the review page the Approve button opens."""

    request_id: str
    durations: tuple[timedelta, ...]
    step_up_link: str | None = None


def review_controls(
    request_id: str,
    approval: Approval,
    *,
    requested: timedelta | None,
    review_link: str,
) -> SlackReview:
    """The controls for a request under `approval`: what was asked (capped at the maximum),
    the policy's default and its maximum, shortest first, at most MAX_CHOICES."""
    asked = min(requested, approval.max_duration) if requested is not None else None
    choices = {d for d in (asked, approval.default_duration, approval.max_duration) if d}
    durations = tuple(sorted(d for d in choices if d > timedelta(0)))[:MAX_CHOICES]
    link = review_link if approval.reviewers_need is not None else None
    return SlackReview(request_id=request_id, durations=durations, step_up_link=link)


def approve_value(request_id: str, duration: timedelta) -> str:
    """What an Approve button carries: the request and the duration in seconds."""
    return f"{request_id}:{int(duration.total_seconds())}"


def review_block(review: SlackReview) -> dict[str, Any]:
    """The actions block: Approve (per duration, or the step-up link) and Deny."""
    if review.step_up_link is not None:
        approve: list[dict[str, Any]] = [
            {
                "type": "button",
                "action_id": f"{APPROVE_ACTION}_page",
                "text": {"type": "plain_text", "text": "Approve on the review page (sign-in)"},
                "url": review.step_up_link,
            }
        ]
    else:
        approve = [
            {
                "type": "button",
                "action_id": f"{APPROVE_ACTION}_{i}",
                "style": "primary",
                "text": {"type": "plain_text", "text": f"Approve {format_duration(d)}"},
                "value": approve_value(review.request_id, d),
            }
            for i, d in enumerate(review.durations)
        ]
    deny = {
        "type": "button",
        "action_id": DENY_ACTION,
        "style": "danger",
        "text": {"type": "plain_text", "text": "Deny"},
        "value": review.request_id,
    }
    return {"type": "actions", "block_id": REVIEW_BLOCK, "elements": [*approve, deny]}


def escape(text: str) -> str:
    """`&`, `<` and `>` as entities: Slack then shows them as text, never as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _quoted(text: str) -> str:
    lines = escape(clip(text)).splitlines() or [""]
    return "\n".join(f">{line}" for line in lines)


def slack_message(notice: Notice, *, review: SlackReview | None = None) -> dict[str, Any]:
    """The JSON body for a Slack incoming webhook; with `review`, an approvers' message also
    carries the review controls."""
    title = escape(headline(notice))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{label}*\n{escape(value)}"}
                for label, value in facts(notice)[:10]
            ],
        },
    ]
    if notice.justification:
        text = f"*Justification*\n{_quoted(notice.justification)}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if notice.link:
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": action_label(notice)},
            "url": notice.link,
        }
        if for_approvers(notice):
            button["style"] = "primary"
        blocks.append({"type": "actions", "elements": [button]})
    if review is not None and for_approvers(notice):
        blocks.append(review_block(review))
    if notice.request_id:
        context = f"Countersign · request {escape(notice.request_id)}"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": title, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}
