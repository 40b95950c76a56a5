"""What each channel receives: Slack blocks with user text escaped, e-mail with escaped HTML and
a one-line subject, and the webhook JSON with exactly the documented fields."""

from __future__ import annotations

import json
from dataclasses import replace

from app.core.notify import Topic, mail, slack_message, webhook_payload
from app.core.notify.slack import escape
from tests.core.notify.notices import NASTY_REASON, notice_of


def test_slack_escapes_control_characters() -> None:
    """`&`, `<` and `>` become entities, as Slack's formatting rules require."""
    assert escape("a & <!channel> > b") == "a &amp; &lt;!channel&gt; &gt; b"


def test_a_justification_cannot_mention_or_link_in_slack() -> None:
    """`<!channel>`, `<script>` and a `<url|text>` link arrive as text, newlines as quote lines."""
    message = slack_message(notice_of(Topic.REQUEST_SUBMITTED, justification=NASTY_REASON))
    text = json.dumps(message)
    assert "<!channel>" not in text
    assert "<script>" not in text
    assert "<https://evil" not in text
    justification = message["blocks"][2]["text"]["text"]
    assert justification == (
        "*Justification*\n"
        ">INC-1 &lt;!channel&gt; &lt;script&gt;alert(1)&lt;/script&gt;\n"
        ">line two &amp; &lt;https://evil.example|click&gt;"
    )


def test_slack_has_a_button_to_the_request() -> None:
    """The only link is the button to the approval page."""
    message = slack_message(notice_of(Topic.REQUEST_SUBMITTED))
    (button,) = message["blocks"][-2]["elements"]
    assert button["url"] == "https://countersign.example.com/inbox/req_abc"
    assert button["text"]["text"] == "Review the request"


def test_slack_shows_the_facts() -> None:
    """Requester, application, IP, country and device are fields of the message."""
    message = slack_message(notice_of(Topic.REQUEST_SUBMITTED))
    fields = " ".join(f["text"] for f in message["blocks"][1]["fields"])
    for fact in ("alice@example.com", "Production database console", "192.0.2.10", "FR", "d-7"):
        assert fact in fields
    assert "*Requested duration*\n2h" in fields


def test_email_html_escapes_the_justification() -> None:
    """`<script>` is shown, never run; newlines become line breaks."""
    content = mail(notice_of(Topic.REQUEST_SUBMITTED, justification=NASTY_REASON))
    assert "<script>" not in content.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>line two &amp;" in content.html
    assert '<a href="https://countersign.example.com/inbox/req_abc">' in content.html


def test_email_text_has_the_facts_and_the_link() -> None:
    """The plain-text part reads on its own."""
    text = mail(notice_of(Topic.REQUEST_SUBMITTED)).text
    assert "Requester: alice@example.com" in text
    assert "  INC-4711 database failover" in text
    assert "Review the request: https://countersign.example.com/inbox/req_abc" in text


def test_email_subject_is_one_line() -> None:
    """A user name with a line break cannot add mail headers."""
    sneaky = replace(notice_of(Topic.REQUEST_SUBMITTED), user="eve\r\nBcc: all@example.com")
    subject = mail(sneaky).subject
    assert "\n" not in subject
    assert "\r" not in subject
    assert subject.startswith("[Countersign] eve Bcc: all@example.com asks for access to ")


def test_webhook_payload_has_the_documented_fields() -> None:
    """The receiver gets these keys and no others (no token, no cookie)."""
    payload = webhook_payload(notice_of(Topic.REQUEST_SUBMITTED), delivery_id="1-0")
    assert set(payload) == {
        "version",
        "id",
        "type",
        "at",
        "summary",
        "request_id",
        "grant_id",
        "application",
        "requester",
        "justification",
        "client_ip",
        "country",
        "device",
        "requested_duration",
        "expires_at",
        "decided_by",
        "comment",
        "grant_expires_at",
        "starts_at",
        "extends",
        "links",
    }
    assert payload["type"] == "request_submitted"
    assert payload["requested_duration"] == 7200
    assert payload["links"] == {"request": "https://countersign.example.com/inbox/req_abc"}
