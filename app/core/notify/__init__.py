"""Notifications as pure functions: which trigger tells whom (routing), and what each channel's
message says (webhook JSON, Slack blocks, e-mail). Sending is the adapters' job."""

from app.core.notify.mail import Mail, mail
from app.core.notify.notice import REVIEW_PAGE, STATUS_PAGE, Notice, build_notice, request_link
from app.core.notify.routing import ChannelKind, Delivery, Route, approver_emails, route
from app.core.notify.signing import SIGNATURE_HEADER, signature, verify
from app.core.notify.slack import slack_message
from app.core.notify.topics import AUDIENCES, ROUTABLE, Audience, Topic
from app.core.notify.trigger import Trigger, expiry_warning, needs_expiry_warning
from app.core.notify.webhook import webhook_body, webhook_payload

__all__ = [
    "AUDIENCES",
    "REVIEW_PAGE",
    "ROUTABLE",
    "SIGNATURE_HEADER",
    "STATUS_PAGE",
    "Audience",
    "ChannelKind",
    "Delivery",
    "Mail",
    "Notice",
    "Route",
    "Topic",
    "Trigger",
    "approver_emails",
    "build_notice",
    "expiry_warning",
    "mail",
    "needs_expiry_warning",
    "request_link",
    "route",
    "signature",
    "slack_message",
    "verify",
    "webhook_body",
    "webhook_payload",
]
