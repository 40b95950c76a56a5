"""Policy loads in the audit log, against a real Redis: the start-up load, every reload and
every refused change land in the hash chain with the digest in force and this replica; a
reload never waits for, or fails with, the audit log, and what could not be written is
written once the store takes it again."""

from __future__ import annotations

import asyncio
import functools
import json
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from redis.asyncio import Redis
from structlog.testing import capture_logs

from app.adapters.store import audit
from app.adapters.store.keys import AUDIT_KEY
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.core.policy.digest import set_digest
from app.services import audit_queue
from app.services.policy_repository import PolicyRepository
from tests.support import waiting
from tests.support.redis_server import RedisServer, RedisServerFactory

REPLICA = "web-1/4242"
WIKI = """
application: {id: wiki, hosts: [wiki.example.com]}
policies:
  - {name: Everyone, action: allow, include: [{everyone: true}]}
"""
GRAFANA = """
application: {id: grafana, hosts: [grafana.example.com]}
policies:
  - {name: SRE, action: allow, include: [{group: sre}]}
"""
TYPO = """
application: {id: wiki, hosts: [wiki.example.com]}
policies:
  - {name: Everyone, action: allow, include: [{grup: sre}]}
"""
#: A loaded 2-core machine can be slow; the conditions below usually hold within milliseconds.
DEADLINE = 20.0
#: Every wait of this module: `waiting.until` with this module's deadline.
until = functools.partial(waiting.until, within=DEADLINE)


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def write(directory: Path, name: str, text: str) -> None:
    """Write a policy file and move its mtime on, so that the next check sees the change."""
    path = directory / "apps" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def repository(directory: Path, failures: list[Sequence[str]] | None = None) -> PolicyRepository:
    """A repository over `directory` holding only the wiki, named REPLICA in the log."""
    write(directory, "wiki.yaml", WIKI)
    on_failure = failures.append if failures is not None else lambda _kinds: None
    return PolicyRepository(directory, replica=REPLICA, on_audit_failure=on_failure)


@asynccontextmanager
async def store_at(url: str) -> AsyncIterator[tuple[Any, RedisWorkflowStore]]:
    """A client to `url` and the workflow store over it (the service's audit trail)."""
    client = Redis.from_url(url, socket_timeout=2.0)
    try:
        yield client, RedisWorkflowStore(client, retention=timedelta(days=1), redis_timeout=2.0)
    finally:
        await client.aclose()


async def logged(client: Any) -> list[dict[str, Any]]:
    """Every event of the audit log, oldest first."""
    return [json.loads(fields["event"]) async for _, fields in audit.entries(client)]


@pytest.fixture
def emptied(server: RedisServer) -> str:
    """The module's Redis, emptied; its URL."""

    async def flush() -> None:
        async with store_at(server.url) as (client, _):
            await client.flushdb()

    asyncio.run(flush())
    return server.url


def test_the_start_up_load_is_written_with_the_digest_in_force(
    emptied: str, tmp_path: Path
) -> None:
    """`policy_loaded` names the set's digest (the one the status reports), this replica and
    `start`; the chain verifies."""
    repo = repository(tmp_path)

    async def go() -> tuple[list[dict[str, Any]], audit.Verdict]:
        async with store_at(emptied) as (client, store):
            repo.load()
            assert await repo.record_audit(store)
            return await logged(client), await audit.verify(client)

    events, verdict = asyncio.run(go())
    assert [e["type"] for e in events] == ["policy_loaded"]
    data = events[0]["data"]
    assert data["digest"] == repo.status.digest == set_digest(repo.current)
    assert (data["version"], data["applications"]) == (repo.status.version, 1)
    assert (data["trigger"], data["replica"]) == ("start", REPLICA)
    assert (events[0]["application"], events[0]["user"], events[0]["actor"]) == ("", "", None)
    assert verdict.ok


def test_a_file_change_is_written_with_both_digests_and_what_changed(
    emptied: str, tmp_path: Path
) -> None:
    """While the service watches its files, adding Grafana writes `policy_reloaded`: the new
    digest, the previous one, `file-change`, and Grafana as the application added."""
    repo = repository(tmp_path)

    async def go() -> tuple[str, list[dict[str, Any]]]:
        async with store_at(emptied) as (client, store):
            repo.load()
            first = repo.status.digest
            watching = asyncio.create_task(repo.watch(0.02, trail=store))
            try:
                await until(lambda: audit_length(client, 1), "the start-up load is written")
                write(tmp_path, "grafana.yaml", GRAFANA)
                await until(lambda: audit_length(client, 2), "the reload is written")
            finally:
                watching.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await watching
            return first, await logged(client)

    first, events = asyncio.run(go())
    assert [e["type"] for e in events] == ["policy_loaded", "policy_reloaded"]
    data = events[1]["data"]
    assert data["digest"] == repo.status.digest == set_digest(repo.current)
    assert data["previous_digest"] == first != data["digest"]
    assert (data["trigger"], data["replica"]) == ("file-change", REPLICA)
    assert data["applications_added"] == ["grafana"]
    assert data["applications_removed"] == data["applications_changed"] == []


def test_a_refused_change_is_written_with_its_codes_and_the_set_kept(
    emptied: str, tmp_path: Path
) -> None:
    """A typo is refused: the old set stays in force and `policy_reload_rejected` names the
    error code, the file and the digest of the set kept."""
    repo = repository(tmp_path)
    kept = repo.load()

    async def go() -> list[dict[str, Any]]:
        async with store_at(emptied) as (client, store):
            write(tmp_path, "wiki.yaml", TYPO)
            assert repo.reload_if_changed() is False
            assert await repo.record_audit(store)
            return await logged(client)

    events = asyncio.run(go())
    assert repo.current is kept
    assert [e["type"] for e in events] == ["policy_loaded", "policy_reload_rejected"]
    data = events[1]["data"]
    assert data["digest"] == events[0]["data"]["digest"] == set_digest(kept)
    assert data["error_codes"] == ["policy.unknown_selector"]
    assert data["errors"] == 1
    assert [Path(f).name for f in data["files"]] == ["wiki.yaml"]


def test_a_refusal_seen_on_every_check_is_written_once(emptied: str, tmp_path: Path) -> None:
    """A file that cannot be read (a dangling link) fails every check; the log gets one
    `policy_reload_rejected`, not one per tick."""
    repo = repository(tmp_path)

    async def go() -> list[dict[str, Any]]:
        async with store_at(emptied) as (client, store):
            repo.load()
            (tmp_path / "apps" / "db.yaml").symlink_to(tmp_path / "nowhere.yaml")
            for _ in range(3):
                assert repo.reload_if_changed() is False
            assert await repo.record_audit(store)
            return await logged(client)

    events = asyncio.run(go())
    assert [e["type"] for e in events] == ["policy_loaded", "policy_reload_rejected"]
    assert str(events[1]["data"]["problem"]).startswith("cannot read")
    assert repo.status.failed_reloads == 3


def test_a_reload_goes_on_while_redis_is_down(
    redis_server_factory: RedisServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Redis stopped, a file change is still swapped in; each failed write is logged as
    an error and counted, and the events wait to be written."""
    down = redis_server_factory()
    down.stop()
    failures: list[Sequence[str]] = []
    repo = repository(tmp_path, failures)

    async def go() -> None:
        async with store_at(down.url) as (_, store):
            repo.load()
            watching = asyncio.create_task(repo.watch(0.02, trail=store))
            try:
                await until(lambda: failures, "a failed write is counted")
                write(tmp_path, "grafana.yaml", GRAFANA)
                await until(lambda: "grafana" in repo.current.applications, "the reload")
                await until(lambda: repo.unrecorded == 2, "both events wait")
            finally:
                watching.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await watching

    with capture_logs() as logs:
        # A fresh logger: the module's own may be bound to an earlier test's configuration.
        monkeypatch.setattr(audit_queue, "log", structlog.get_logger("countersign.audit"))
        asyncio.run(go())
    assert repo.status.last_reload_ok
    assert list(failures[0]) == ["policy_loaded"]
    failed = [line for line in logs if line["event"] == "audit_append_failed"]
    assert failed
    assert failed[0]["log_level"] == "error"


def test_kept_events_are_written_in_order_once_the_store_takes_them(
    emptied: str, tmp_path: Path
) -> None:
    """A store that refuses the write (its user lost its rights) keeps the load and the reload
    waiting; once it accepts again both are written, in order, and the chain verifies."""
    failures: list[Sequence[str]] = []
    repo = repository(tmp_path, failures)

    async def go() -> tuple[list[dict[str, Any]], audit.Verdict]:
        async with store_at(emptied) as (admin, _):
            await admin.execute_command("ACL", "SETUSER", "countersign", "on", ">pw", "~*", "&*")
            user = emptied.replace("redis://", "redis://countersign:pw@")
            try:
                async with store_at(user) as (_, store):
                    repo.load()
                    write(tmp_path, "grafana.yaml", GRAFANA)
                    assert repo.reload_if_changed() is True
                    assert await repo.record_audit(store) is False
                    await admin.execute_command("ACL", "SETUSER", "countersign", "+@all")
                    assert await repo.record_audit(store) is True
            finally:
                await admin.execute_command("ACL", "DELUSER", "countersign")
            return await logged(admin), await audit.verify(admin)

    events, verdict = asyncio.run(go())
    assert [list(kinds) for kinds in failures] == [["policy_loaded", "policy_reloaded"]]
    assert [e["type"] for e in events] == ["policy_loaded", "policy_reloaded"]
    assert repo.unrecorded == 0
    assert verdict.ok


async def audit_length(client: Any, count: int) -> bool:
    """Whether the audit log holds `count` entries."""
    return int(await client.xlen(AUDIT_KEY)) == count
