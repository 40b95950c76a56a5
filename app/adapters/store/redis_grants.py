"""Grant reads from Redis: one MGET per decision that needs it, keyed by the person and the
scope (application, policy fingerprint) of the policy that matched."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from app.adapters.store.keys import access_keys
from app.core.approvals.person import Person, Scope
from app.core.decision import GrantState


class RedisGrantReader:
    """Implements services.ports.GrantReader over any redis-py asyncio client (or cluster)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    async def grant_state(self, person: Person, scope: Scope) -> GrantState:
        """Raise on any Redis error; garbage in a key, or a value naming another policy, is
        treated as absent, never as a grant."""
        grant_raw, open_raw, justified_raw = await self._client.mget(access_keys(person, scope))
        grant_id, grant_expires, grant_starts = _parse_grant(grant_raw, scope)
        _, justified_until, _ = _parse_grant(justified_raw, scope)
        return GrantState(
            grant_expires_at=grant_expires,
            grant_id=grant_id,
            justified_until=justified_until,
            pending_request_id=_text(open_raw),
            policy=scope.policy,
            grant_starts_at=grant_starts,
        )


def _text(raw: bytes | str | None) -> str | None:
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text or None


_Parsed = tuple[str | None, datetime | None, datetime | None]


def _parse_grant(raw: bytes | str | None, scope: Scope) -> _Parsed:
    """(id, expires_at, starts_at); a value written before planned windows has no starts_at
    (it began when issued). Anything unreadable is no grant at all."""
    text = _text(raw)
    if text is None:
        return None, None, None
    try:
        body = json.loads(text)
        if body["policy"] != scope.policy:
            return None, None, None
        end = body["expires_at"] if "expires_at" in body else body["ends_at"]
        expires = datetime.fromtimestamp(float(end), tz=UTC)
        start = body.get("starts_at")
        starts = None if start is None else datetime.fromtimestamp(float(start), tz=UTC)
        return str(body["id"]), expires, starts
    except (ValueError, KeyError, TypeError, OverflowError, OSError, AttributeError):
        return None, None, None
