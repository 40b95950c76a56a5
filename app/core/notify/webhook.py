"""The generic webhook body: the notice as JSON, with a delivery id receivers can de-duplicate
on. The sender signs the exact bytes returned here (see `signing`)."""

from __future__ import annotations

import json
from typing import Any

from app.core.approvals.codec import encode_optional_time, encode_seconds, encode_time
from app.core.notify.notice import Notice
from app.core.notify.wording import headline

#: Bumped if a field changes meaning; new fields may appear without a bump.
SCHEMA_VERSION = 1


def webhook_payload(notice: Notice, *, delivery_id: str) -> dict[str, Any]:
    """The JSON object a webhook receives."""
    return {
        "version": SCHEMA_VERSION,
        "id": delivery_id,
        "type": notice.topic.value,
        "at": encode_time(notice.at),
        "summary": headline(notice),
        "request_id": notice.request_id,
        "grant_id": notice.grant_id,
        "application": {"id": notice.application, "name": notice.application_name},
        "requester": {"user": notice.user, "email": notice.requester_email},
        "justification": notice.justification,
        "client_ip": notice.client_ip,
        "country": notice.country,
        "device": {
            "managed": notice.device_managed,
            "id": notice.device_id,
            "tags": list(notice.device_tags),
        },
        "requested_duration": encode_seconds(notice.requested_duration),
        "expires_at": encode_optional_time(notice.expires_at),
        "decided_by": notice.decided_by,
        "comment": notice.comment,
        "grant_expires_at": encode_optional_time(notice.grant_expires_at),
        "starts_at": encode_optional_time(notice.starts_at),
        "extends": notice.extends,
        "links": {"request": notice.link} if notice.link else {},
    }


def webhook_body(notice: Notice, *, delivery_id: str) -> bytes:
    """The request body: compact UTF-8 JSON."""
    payload = webhook_payload(notice, delivery_id=delivery_id)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
