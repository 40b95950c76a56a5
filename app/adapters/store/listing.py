"""Listing requests and grants (services.ports.Listings) over the sorted-set indexes the
transitions keep (app/adapters/store/keys.py): which index answers a query, how a page is
filled, and what a cursor holds.

A page walks its index from the highest score down, loads the records in batches and keeps
what the query (and the caller's `visible`) accepts, until the page is full or a scan budget
is spent. The cursor is "score:passed": the score reached and how many rows with exactly that
score were passed, since records made in the same instant share a score and a bare score would
skip the rest of them. Callers treat it as opaque.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from app.adapters.store.keys import (
    ACTIVE_GRANTS_INDEX,
    GRANTS_INDEX,
    PENDING_INDEX,
    REQUESTS_INDEX,
    application_grants_index,
    person_grants_index,
    person_requests_index,
    user_grants_index,
)
from app.adapters.store.records import RedisRecords, text
from app.core.approvals import AccessRequest, Grant, RequestStatus
from app.services.errors import BadCursorError
from app.services.ports import GrantQuery, Page, RequestQuery

#: Page sizes are 1..MAX_LIMIT whatever the query says.
MAX_LIMIT = 200
#: Index rows one page may pass over before it answers with what it found (and a cursor).
SCAN_BUDGET = 5000


class _Record(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_Record)


class RedisListings:
    """Implements services.ports.Listings over `client`."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._records = RedisRecords(client)

    async def requests(self, query: RequestQuery) -> Page[AccessRequest]:
        """Requests, newest first (pending ones by when they expire, latest first)."""

        def keep(request: AccessRequest) -> bool:
            if query.requester is not None and request.requester.person != query.requester:
                return False
            if query.status is not None and request.status is not query.status:
                return False
            if query.application is not None and request.application != query.application:
                return False
            return query.visible(request)

        index = request_index(query)
        return await self._page(index, query.cursor, query.limit, self._records.load_requests, keep)

    async def grants(self, query: GrantQuery) -> Page[Grant]:
        """Grants, newest first (active ones by when they end, latest first)."""
        at = query.active_at

        def keep(grant: Grant) -> bool:
            if query.holder is not None and grant.holder != query.holder:
                return False
            if query.application is not None and grant.application != query.application:
                return False
            if query.user is not None and grant.user != query.user:
                return False
            if at is not None and not grant.is_active(at):
                return False
            return query.visible(grant)

        index = grant_index(query)
        return await self._page(index, query.cursor, query.limit, self._records.load_grants, keep)

    async def _page(
        self,
        index: str,
        cursor: str | None,
        limit: int,
        load: Callable[[Sequence[str]], Awaitable[Sequence[R]]],
        keep: Callable[[R], bool],
    ) -> Page[R]:
        limit = max(1, min(limit, MAX_LIMIT))
        at, passed = decode_cursor(cursor)
        found: list[R] = []
        scanned = 0
        while len(found) < limit and scanned < SCAN_BUDGET:
            rows = await self._rows(
                index,
                before=None if at is None else math.nextafter(at, math.inf),
                limit=limit * 2,
                offset=passed,
            )
            if not rows:
                return Page(tuple(found), None)
            scanned += len(rows)
            items = await load([row_id for row_id, _ in rows])
            by_id = {item.id: item for item in items}
            for row_id, score in rows:
                at, passed = (score, passed + 1) if score == at else (score, 1)
                item = by_id.get(row_id)
                if item is not None and keep(item):
                    found.append(item)
                    if len(found) == limit:
                        break
        return Page(tuple(found), encode_cursor(at, passed) if at is not None else None)

    async def _rows(
        self, index: str, *, before: float | None, limit: int, offset: int
    ) -> list[tuple[str, float]]:
        """(id, score) pairs from an index, highest score first, scores strictly below
        `before`, leaving out the first `offset` of them."""
        top = f"({before!r}" if before is not None else "+inf"
        rows = await self._client.zrevrangebyscore(
            index, top, "-inf", start=offset, num=limit, withscores=True
        )
        return [(text(member), float(score)) for member, score in rows]


def request_index(query: RequestQuery) -> str:
    """The smallest index holding every request `query` can match."""
    if query.requester is not None:
        return person_requests_index(query.requester)
    if query.status is RequestStatus.PENDING:
        return PENDING_INDEX
    return REQUESTS_INDEX


def grant_index(query: GrantQuery) -> str:
    """The smallest index holding every grant `query` can match."""
    if query.holder is not None:
        return person_grants_index(query.holder)
    if query.user is not None:
        return user_grants_index(query.user)
    if query.application is not None and query.active_at is not None:
        return application_grants_index(query.application)
    return ACTIVE_GRANTS_INDEX if query.active_at is not None else GRANTS_INDEX


def encode_cursor(score: float, passed: int) -> str:
    """Where the next page starts: the score reached, and the rows passed at that score."""
    return f"{score!r}:{passed}"


def decode_cursor(cursor: str | None) -> tuple[float | None, int]:
    """The position a cursor names; BadCursorError for anything `encode_cursor` never makes
    (or a position past any real index)."""
    if cursor is None:
        return None, 0
    score, _, passed = cursor.partition(":")
    try:
        value, count = float(score), int(passed)
    except ValueError:
        raise BadCursorError(cursor[:40]) from None
    if not math.isfinite(value) or not 0 <= count <= 1_000_000:
        raise BadCursorError(cursor[:40])
    return value, count
