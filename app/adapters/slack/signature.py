"""Slack's request signature (`X-Slack-Signature`, `X-Slack-Request-Timestamp`), checked on
the raw body before anything parses it.

Slack signs `v0:<timestamp>:<body>` with HMAC-SHA256 under the app's signing secret. A request
older or newer than REPLAY_WINDOW is refused, so a captured request cannot be replayed later;
the comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac

#: How far a request's timestamp may be from our clock (Slack's own recommendation).
REPLAY_WINDOW = 300
SIGNATURE_HEADER = "x-slack-signature"
TIMESTAMP_HEADER = "x-slack-request-timestamp"
_VERSION = "v0"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The `X-Slack-Signature` value of `body` sent at `timestamp`."""
    base = f"{_VERSION}:{timestamp}:".encode() + body
    return f"{_VERSION}=" + hmac.new(secret, base, hashlib.sha256).hexdigest()


def verify(secret: bytes, *, timestamp: str, signature: str, body: bytes, now: float) -> bool:
    """Whether `signature` signs `body` at `timestamp`, within REPLAY_WINDOW of `now`."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    sent = int(timestamp)
    if abs(now - sent) > REPLAY_WINDOW:
        return False
    expected = sign(secret, sent, body)
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
