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
        grant_id, grant_expires = _parse_grant(grant_raw, scope)
        _, justified_until = _parse_grant(justified_raw, scope)
        return GrantState(
            grant_expires_at=grant_expires,
            grant_id=grant_id,
            justified_until=justified_until,
            pending_request_id=_text(open_raw),
            policy=scope.policy,
        )


def _text(raw: bytes | str | None) -> str | None:
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text or None


def _parse_grant(raw: bytes | str | None, scope: Scope) -> tuple[str | None, datetime | None]:
    text = _text(raw)
    if text is None:
        return None, None
    try:
        body = json.loads(text)
        if body["policy"] != scope.policy:
            return None, None
        return str(body["id"]), datetime.fromtimestamp(float(body["expires_at"]), tz=UTC)
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        return None, None
