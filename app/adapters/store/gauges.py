"""What is open right now, per application, for the gauges of /metrics: pending requests,
those of them that run out soon, and active grants. Read at scrape time (a scrape every few
seconds costs a handful of commands), never on the decision path."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.adapters.store.keys import PENDING_INDEX, application_grants_index, request_key

#: Pending requests looked at per scrape; beyond that the gauges say so (`truncated`).
MAX_PENDING = 10_000
_BATCH = 500


@dataclass(frozen=True, slots=True)
class OpenWork:
    """Counts per application id."""

    pending: Counter[str] = field(default_factory=Counter)
    expiring: Counter[str] = field(default_factory=Counter)
    active_grants: Counter[str] = field(default_factory=Counter)
    truncated: bool = False


async def open_work(
    client: Any, applications: Iterable[str], *, now: datetime, soon: timedelta
) -> OpenWork:
    """Pending requests (and those ending within `soon`) and active grants, per application."""
    apps = list(applications)
    start = now.timestamp()
    ids = await client.zrangebyscore(PENDING_INDEX, f"({start!r}", "+inf", start=0, num=MAX_PENDING)
    work = OpenWork(truncated=len(ids) >= MAX_PENDING)
    horizon = (now + soon).timestamp()
    for offset in range(0, len(ids), _BATCH):
        batch = [_text(i) for i in ids[offset : offset + _BATCH]]
        for raw in await client.mget([request_key(i) for i in batch]):
            record = _record(raw)
            if record is None:
                continue
            app = str(record.get("application", ""))
            work.pending[app] += 1
            if _timestamp(record.get("expires_at")) <= horizon:
                work.expiring[app] += 1
    if apps:
        async with client.pipeline(transaction=False) as pipe:
            for app in apps:
                pipe.zcount(application_grants_index(app), f"({start!r}", "+inf")
            counts = await pipe.execute()
        for app, count in zip(apps, counts, strict=True):
            work.active_grants[app] = int(count)
    return work


def _record(raw: bytes | str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _timestamp(text: object) -> float:
    if not isinstance(text, str):
        return float("inf")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("inf")


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
