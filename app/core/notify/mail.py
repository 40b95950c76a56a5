"""An e-mail for a notice: subject, plain-text part and HTML part. Every value in the HTML is
escaped; the subject is one line; the link is the only link."""

from __future__ import annotations

import html
from dataclasses import dataclass

from app.core.notify.notice import Notice
from app.core.notify.wording import action_label, clip, facts, headline

FOOTER = "Sent by Countersign. Links need you to sign in; they grant nothing by themselves."


@dataclass(frozen=True, slots=True)
class Mail:
    """What the SMTP sender turns into a MIME message."""

    subject: str
    text: str
    html: str


def mail(notice: Notice) -> Mail:
    """The e-mail for `notice`."""
    title = headline(notice)
    rows = facts(notice)
    lines = [title, ""]
    lines += [f"{label}: {value}" for label, value in rows]
    if notice.justification:
        lines += ["", "Justification:"]
        lines += [f"  {line}" for line in clip(notice.justification).splitlines()]
    if notice.link:
        lines += ["", f"{action_label(notice)}: {notice.link}"]
    lines += ["", "--", FOOTER]
    return Mail(subject=f"[Countersign] {title}", text="\n".join(lines) + "\n", html=_html(notice))


def _html(notice: Notice) -> str:
    e = html.escape
    rows = "".join(
        f'<tr><th align="left" style="padding-right:1em">{e(label)}</th><td>{e(value)}</td></tr>'
        for label, value in facts(notice)
    )
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"></head><body>',
        f"<p><strong>{e(headline(notice))}</strong></p>",
        f"<table>{rows}</table>",
    ]
    if notice.justification:
        quoted = "<br>".join(e(line) for line in clip(notice.justification).splitlines())
        parts.append(f"<p><strong>Justification</strong></p><blockquote>{quoted}</blockquote>")
    if notice.link:
        parts.append(f'<p><a href="{e(notice.link, quote=True)}">{e(action_label(notice))}</a></p>')
    parts.append(f'<p style="color:#666">{e(FOOTER)}</p></body></html>')
    return "\n".join(parts) + "\n"
