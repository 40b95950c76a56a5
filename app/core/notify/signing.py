"""The webhook signature: HMAC-SHA256 over `<timestamp>.<body>`, sent with the timestamp so a
receiver can refuse old (replayed) deliveries. The README shows the same check for receivers.

    Countersign-Signature: t=1714990000,v1=5f2b...e9
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Countersign-Signature"
#: How far a receiver should let the timestamp be from its own clock, in seconds.
DEFAULT_TOLERANCE = 300


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The header value for `body` sent at `timestamp` (Unix seconds)."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(
    secret: bytes, header: str, body: bytes, *, now: int, tolerance: int = DEFAULT_TOLERANCE
) -> bool:
    """Whether `header` signs `body` with `secret` at a time within `tolerance` of `now`."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
