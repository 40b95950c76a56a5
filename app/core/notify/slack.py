"""A Slack message (blocks) for an incoming webhook.

Everything a user typed is escaped by Slack's rules (`&`, `<`, `>` become entities), so a
justification cannot mention `<!channel>`, a user, or hide a link; only the request link is a
real link, in a button.
"""

from __future__ import annotations

from typing import Any

from app.core.notify.notice import Notice
from app.core.notify.wording import action_label, clip, facts, for_approvers, headline


def escape(text: str) -> str:
    """`&`, `<` and `>` as entities: Slack then shows them as text, never as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _quoted(text: str) -> str:
    lines = escape(clip(text)).splitlines() or [""]
    return "\n".join(f">{line}" for line in lines)


def slack_message(notice: Notice) -> dict[str, Any]:
    """The JSON body for a Slack incoming webhook."""
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
    if notice.request_id:
        context = f"Countersign · request {escape(notice.request_id)}"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": title, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}
