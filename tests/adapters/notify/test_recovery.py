"""The notifier when its outbox stream or consumer group is gone (`DEL`, `XGROUP DESTROY`,
Redis restarted empty, entries trimmed unread): the group comes back where it was, nothing
written meanwhile is skipped, nothing is sent twice, and a gap is reported."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.adapters.api.ops import ops_router
from app.adapters.notify import loop_errors
from app.adapters.notify.keys import GROUP
from app.adapters.observability.metrics import Metrics
from app.adapters.store.keys import OUTBOX_KEY
from app.core.notify import expiry_warning
from app.services.policy_repository import PolicyStatus
from tests.adapters.notify.harness import (
    FAST,
    SECRET,
    answers,
    ask,
    group_exists,
    restart,
    restart_empty,
    running,
    scenario,
    settled,
    webhook,
)
from tests.support.receivers import HttpReceiver
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.waiting import until
from tests.support.workflow import CAROL, World

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    """A webhook receiver that accepts only signed deliveries."""
    receiver = HttpReceiver(secret=SECRET.encode()).start()
    yield receiver
    receiver.stop()


def types_for(receiver: HttpReceiver, request_id: str) -> list[str]:
    """The event types a receiver got for one request, in arrival order."""
    return [b["type"] for b in receiver.bodies() if b["request_id"] == request_id]


def delivered_once(receiver: HttpReceiver) -> bool:
    """No outbox entry reached the receiver twice."""
    ids = [b["id"] for b in receiver.bodies()]
    return len(ids) == len(set(ids))


async def last_entry(w: World) -> str:
    """The id of the newest outbox entry."""
    ((entry_id, _),) = await w.client.xrevrange(OUTBOX_KEY, count=1)
    return str(entry_id.decode())


def test_a_deleted_outbox_is_recreated_and_the_next_message_arrives_once(
    server: RedisServer, hook: HttpReceiver
) -> None:
    """`DEL` of the outbox while the notifier runs: the group comes back, and a request asked
    afterwards reaches the webhook exactly once."""

    async def body(w: World) -> None:
        async with running(server.url, [webhook(hook.url)]) as worker:
            first = await ask(w)
            await until(lambda: settled(w.client))
            await w.client.delete(OUTBOX_KEY)
            await until(lambda: group_exists(w.client))
            second = await ask(w, CAROL)
            await until(lambda: settled(w.client))
            assert worker.status()["recoveries"] == 1
        assert types_for(hook, first.id) == ["request_submitted"]
        assert types_for(hook, second.id) == ["request_submitted"]
        assert delivered_once(hook)

    scenario(server.url, body)


def test_a_destroyed_group_is_recreated_where_it_was(
    server: RedisServer, hook: HttpReceiver
) -> None:
    """`XGROUP DESTROY` while the notifier runs: the group comes back at the last entry it
    handed out, so the next request is sent once and the earlier one is not sent again."""

    async def body(w: World) -> None:
        async with running(server.url, [webhook(hook.url)]) as worker:
            first = await ask(w)
            await until(lambda: settled(w.client))
            await w.client.xgroup_destroy(OUTBOX_KEY, GROUP)
            await until(lambda: group_exists(w.client))
            second = await ask(w, CAROL)
            await until(lambda: settled(w.client))
            status = worker.status()
        assert types_for(hook, first.id) == ["request_submitted"]
        assert types_for(hook, second.id) == ["request_submitted"]
        assert len(hook.received) == 2
        assert (status["state"], status["recoveries"], status["gaps"]) == ("ok", 1, 0)

    scenario(server.url, body)


@pytest.mark.parametrize("loss", ["destroy", "delete"])
def test_entries_written_while_the_group_was_missing_are_not_skipped(
    server: RedisServer, hook: HttpReceiver, loss: str
) -> None:
    """The group (or the whole outbox) goes while no notifier runs, and CAROL asks meanwhile:
    the next notifier to start sends her request, and not ALICE's again."""

    async def body(w: World) -> None:
        async with running(server.url, [webhook(hook.url)]):
            first = await ask(w)
            await until(lambda: settled(w.client))
        if loss == "destroy":
            await w.client.xgroup_destroy(OUTBOX_KEY, GROUP)
        else:
            await w.client.delete(OUTBOX_KEY)
        second = await ask(w, CAROL)
        async with running(server.url, [webhook(hook.url)]):
            await until(lambda: settled(w.client))
        assert types_for(hook, first.id) == ["request_submitted"]
        assert types_for(hook, second.id) == ["request_submitted"]
        assert len(hook.received) == 2

    scenario(server.url, body)


def test_a_new_group_sends_what_is_already_in_the_outbox(
    server: RedisServer, hook: HttpReceiver
) -> None:
    """ALICE asks before any notifier ever ran (no group yet): the first notifier sends it."""

    async def body(w: World) -> None:
        request = await ask(w)
        async with running(server.url, [webhook(hook.url)]):
            await until(lambda: settled(w.client))
        assert types_for(hook, request.id) == ["request_submitted"]

    scenario(server.url, body)


def test_a_new_group_does_not_replay_an_old_outbox(server: RedisServer, hook: HttpReceiver) -> None:
    """An entry written long before the first notifier starts (beyond `fresh_window`) is not
    sent; one written just before is."""

    async def body(w: World) -> None:
        old = await ask(w)
        entries = await w.client.xrange(OUTBOX_KEY)
        await w.client.delete(OUTBOX_KEY)
        for number, (_, fields) in enumerate(entries, start=1):
            await w.client.xadd(OUTBOX_KEY, fields, id=f"{number}-0")  # 1970: long ago
        recent = await ask(w, CAROL)
        options = replace(FAST, fresh_window=timedelta(hours=1))
        async with running(server.url, [webhook(hook.url)], options=options):
            await until(lambda: settled(w.client))
        assert types_for(hook, recent.id) == ["request_submitted"]
        assert types_for(hook, old.id) == []

    scenario(server.url, body)


def test_notifications_resume_after_redis_restarts_empty(
    redis_server_factory: RedisServerFactory, hook: HttpReceiver
) -> None:
    """Redis restarts with nothing (a new process on the same port, no AOF): the notifier
    reconnects, recreates the group, and the next request reaches the webhook once."""
    own = redis_server_factory()

    async def body(w: World) -> None:
        async with running(own.url, [webhook(hook.url)]) as worker:
            first = await ask(w)
            await until(lambda: settled(w.client))
            await asyncio.to_thread(restart_empty, own)
            await until(lambda: answers(w.client))
            second = await ask(w, CAROL)
            await until(lambda: settled(w.client), within=15.0)
            assert worker.status()["recoveries"] == 1
        assert types_for(hook, first.id) == ["request_submitted"]
        assert types_for(hook, second.id) == ["request_submitted"]
        assert delivered_once(hook)

    scenario(own.url, body)


async def readyz(status: Callable[[], dict[str, Any]], w: World) -> httpx.Response:
    """GET /readyz of an ops router showing `status` as the notifier."""
    app = FastAPI()
    app.include_router(
        ops_router(
            policy_status=lambda: PolicyStatus(version="v1", applications=1, last_reload_ok=True),
            redis_ping=w.client.ping,
            metrics=lambda: b"",
            redis_timeout=1.0,
            notifications=status,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ops") as client:
        return await client.get("/readyz")


def test_a_gap_is_reported_on_readyz_and_metrics(server: RedisServer, hook: HttpReceiver) -> None:
    """Two entries are written and the older is trimmed away unread, with the group gone: the
    newer is sent, the loss is counted once and shown on /readyz (still ready) and /metrics."""
    metrics = Metrics()

    async def body(w: World) -> None:
        async with running(server.url, [webhook(hook.url)], observer=metrics) as worker:
            request = await ask(w)
            await until(lambda: settled(w.client))
            delivered = await last_entry(w)
            notice = json.dumps(expiry_warning(request, now=w.clock()).to_dict())
            async with w.client.pipeline(transaction=True) as multi:
                multi.xadd(OUTBOX_KEY, {"notice": notice})  # lost: trimmed before anyone read it
                multi.xadd(OUTBOX_KEY, {"notice": notice})
                multi.xtrim(OUTBOX_KEY, maxlen=1, approximate=False)
                multi.xgroup_destroy(OUTBOX_KEY, GROUP)
                _, kept, _, _ = await multi.execute()
            await until(lambda: settled(w.client))
            response = await readyz(worker.status, w)
        assert types_for(hook, request.id) == ["request_submitted", "request_expiring"]
        assert response.status_code == 200
        shown = response.json()["notifications"]
        assert (shown["state"], shown["gaps"]) == ("gap", 1)
        assert shown["last_gap"]["last_delivered"] == delivered
        assert shown["last_gap"]["first_present"] == kept.decode()
        text = metrics.render().decode()
        assert "countersign_notify_outbox_gaps_total 1.0" in text
        assert "countersign_notify_outbox_recoveries_total 1.0" in text
        assert 'countersign_notify_outbox_state{state="gap"} 1.0' in text
        assert 'countersign_notify_outbox_state{state="ok"} 0.0' in text

    scenario(server.url, body)


class RecordingLog:
    """Stands in for the notifier's structlog logger: keeps (level, event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        """Record a warning."""
        self.lines.append(("warning", event, fields))

    def info(self, event: str, **fields: Any) -> None:
        """Record an info line."""
        self.lines.append(("info", event, fields))

    def of(self, event: str, loop: str) -> int:
        """How many `event` lines `loop` logged."""
        return sum(1 for _, e, f in self.lines if e == event and f.get("loop") == loop)


def test_redis_down_is_logged_once_per_loop_and_its_end_too(
    redis_server_factory: RedisServerFactory,
    hook: HttpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While Redis is down the read loop fails again and again but logs one warning; when Redis
    is back (with its data) it logs one line saying so, and /readyz detail stops listing it as
    failing."""
    own = redis_server_factory(appendonly=True)
    recorded = RecordingLog()
    monkeypatch.setattr(loop_errors, "log", recorded)

    async def body(w: World) -> None:
        async with running(own.url, [webhook(hook.url)]) as worker:
            await until(lambda: settled(w.client))
            await asyncio.to_thread(own.stop)
            await until(lambda: worker.status()["failing"].get("read", {}).get("failures", 0) >= 4)
            assert recorded.of("notifier_error", "read") == 1
            await asyncio.to_thread(restart, own)
            await until(lambda: recorded.of("notifier_recovered", "read") == 1)
            await until(lambda: "read" not in worker.status()["failing"])
            assert recorded.of("notifier_error", "read") == 1

    scenario(own.url, body)
