"""Reading access requests and grants back from Redis: by id, in bulk, what one person has for
one scope, and what the sweeper must expire. Nothing here writes (see `redis_workflow`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.adapters.store.keys import (
    ACTIVE_GRANTS_INDEX,
    PENDING_INDEX,
    access_keys,
    grant_record_key,
    request_key,
)
from app.core.approvals import AccessRequest, Grant
from app.core.approvals.person import Person, Scope


class RedisRecords:
    """Stored requests and grants, read over `client` (or a pipeline that WATCHes)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    async def load_request(self, request_id: str) -> AccessRequest | None:
        """The request, or None."""
        raw = await self._client.get(request_key(request_id))
        return AccessRequest.from_dict(json.loads(raw)) if raw is not None else None

    async def load_grant(self, grant_id: str) -> Grant | None:
        """The grant, or None."""
        raw = await self._client.get(grant_record_key(grant_id))
        return Grant.from_dict(json.loads(raw)) if raw is not None else None

    async def load_requests(self, ids: Sequence[str]) -> list[AccessRequest]:
        """Requests by id, skipping any gone past retention."""
        if not ids:
            return []
        raws = await self._client.mget([request_key(i) for i in ids])
        return [AccessRequest.from_dict(json.loads(r)) for r in raws if r is not None]

    async def load_grants(self, ids: Sequence[str]) -> list[Grant]:
        """Grants by id, skipping any gone past retention."""
        if not ids:
            return []
        raws = await self._client.mget([grant_record_key(i) for i in ids])
        return [Grant.from_dict(json.loads(r)) for r in raws if r is not None]

    async def due_requests(self, now: datetime, *, limit: int = 500) -> list[str]:
        """PENDING requests whose pending_ttl has run out."""
        rows = await self._client.zrangebyscore(
            PENDING_INDEX, "-inf", now.timestamp(), start=0, num=limit
        )
        return [text(r) for r in rows]

    async def due_grants(self, now: datetime, *, limit: int = 500) -> list[str]:
        """ACTIVE grants whose time is up."""
        rows = await self._client.zrangebyscore(
            ACTIVE_GRANTS_INDEX, "-inf", now.timestamp(), start=0, num=limit
        )
        return [text(r) for r in rows]

    async def standing(
        self, person: Person, scope: Scope
    ) -> tuple[AccessRequest | None, Grant | None]:
        """The open request and the grant in force (approval, else justified) that `person`
        has for `scope`, as the hot path would find them; either may be None."""
        grant_pair, open_key, justified_pair = access_keys(person, scope)
        open_id = await self._client.get(open_key)
        request = await self.load_request(text(open_id)) if open_id is not None else None
        grant = await grant_named_by(self._client, grant_pair)
        if grant is None:
            grant = await grant_named_by(self._client, justified_pair)
        return request, grant


async def grant_named_by(reader: Any, pair_key: str) -> Grant | None:
    """The record named by an access key (read with `reader`: a client, or a pipeline that
    WATCHes); garbage in the key names no grant."""
    raw = await reader.get(pair_key)
    if raw is None:
        return None
    try:
        grant_id = str(json.loads(raw)["id"])
    except (ValueError, KeyError, TypeError):
        return None
    record = await reader.get(grant_record_key(grant_id))
    return Grant.from_dict(json.loads(record)) if record is not None else None


async def request_read_by(reader: Any, request_id: str) -> AccessRequest | None:
    """The request, read with `reader` (a pipeline that WATCHes, in a transition)."""
    raw = await reader.get(request_key(request_id))
    return AccessRequest.from_dict(json.loads(raw)) if raw else None


def text(raw: bytes | str) -> str:
    """A Redis reply as text, whether the client decodes replies or not."""
    return raw.decode() if isinstance(raw, bytes) else raw
