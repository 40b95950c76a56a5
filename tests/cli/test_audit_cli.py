"""`countersign audit verify` and `countersign audit export` against a real Redis: exit codes,
the line an operator reads, and JSON lines an auditor can re-check."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from app.adapters.store import audit
from app.adapters.store.keys import AUDIT_HEAD_KEY, AUDIT_KEY
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.cli import main
from app.core.approvals import Event, EventType
from tests.support import components
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import (
    RETENTION,
    World,
    event_of,
    rewrite_entry,
    seven_entries,
    world,
)

Tamper = Callable[[World, list[str]], Awaitable[None]]


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def workflow_log(url: str, tamper: Tamper | None = None) -> list[str]:
    """Write the seven-entry workflow to an emptied Redis, apply `tamper`; the entry ids."""

    async def go() -> list[str]:
        async with world(url) as w:
            ids = await seven_entries(w)
            if tamper is not None:
                await tamper(w, ids)
            return ids

    return asyncio.run(go())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`countersign ARGV` in-process: exit code, stdout, stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def exported(capsys: pytest.CaptureFixture[str], url: str, *filters: str) -> list[dict[str, Any]]:
    """The JSON lines `audit export` writes, decoded; fails unless it exits 0."""
    code, out, err = run(capsys, "audit", "export", "--redis-url", url, *filters)
    assert (code, err) == (0, "")
    return [json.loads(line) for line in out.splitlines()]


# -- verify ------------------------------------------------------------------------------------


def test_verify_says_intact_and_exits_0(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """An untouched log: exit 0 and the entry count."""
    workflow_log(server.url)
    assert run(capsys, "audit", "verify", "--redis-url", server.url) == (
        0,
        "audit log intact: 7 entries\n",
        "",
    )


def test_verify_reads_the_redis_url_from_the_environment(
    server: RedisServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --redis-url, COUNTERSIGN_REDIS_URL says where the log is."""
    workflow_log(server.url)
    monkeypatch.setenv("COUNTERSIGN_REDIS_URL", server.url)
    code, out, _ = run(capsys, "audit", "verify")
    assert (code, out) == (0, "audit log intact: 7 entries\n")


def test_verify_names_an_edited_entry_and_exits_1(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """An edited entry: exit 1, its id and "does not match its hash"."""

    async def tamper(w: World, ids: list[str]) -> None:
        event = await event_of(w.client, ids[4])
        event["data"]["duration"] = 86400
        await rewrite_entry(w.client, ids[4], {"event": audit.canonical(event)})

    ids = workflow_log(server.url, tamper)
    code, out, _ = run(capsys, "audit", "verify", "--redis-url", server.url)
    assert code == 1
    assert out.splitlines()[0] == (
        f"audit log damaged at entry {ids[4]}: content does not match its hash: edited"
    )


def test_verify_names_the_entry_after_a_deleted_one_and_exits_1(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A deleted middle entry: exit 1, naming the entry whose link it broke."""

    async def tamper(w: World, ids: list[str]) -> None:
        await w.client.xdel(AUDIT_KEY, ids[2])

    ids = workflow_log(server.url, tamper)
    code, out, _ = run(capsys, "audit", "verify", "--redis-url", server.url)
    assert code == 1
    assert out.startswith(f"audit log damaged at entry {ids[3]}: previous hash does not match")


def test_verify_catches_a_deleted_newest_entry_and_exits_1(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The newest entry deleted: exit 1, "after" the last remaining entry, per the head."""

    async def tamper(w: World, ids: list[str]) -> None:
        await w.client.xdel(AUDIT_KEY, ids[-1])

    ids = workflow_log(server.url, tamper)
    code, out, _ = run(capsys, "audit", "verify", "--redis-url", server.url)
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(f"audit log damaged after entry {ids[-2]}: ")
    assert "the head records 7" in first


def test_verify_catches_an_emptied_log_and_exits_1(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every entry deleted, the head left behind: exit 1, the head still counts seven."""

    async def tamper(w: World, ids: list[str]) -> None:
        await w.client.xdel(AUDIT_KEY, *ids)

    workflow_log(server.url, tamper)
    code, out, _ = run(capsys, "audit", "verify", "--redis-url", server.url)
    assert code == 1
    assert out.startswith("audit log damaged: the log ends at 0 entries but the head records 7")


def test_verify_reports_an_unreadable_head_and_exits_1(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A head key that is not the JSON the store writes is damage, not a crash."""

    async def tamper(w: World, _ids: list[str]) -> None:
        await w.client.set(AUDIT_HEAD_KEY, "{garbage")

    workflow_log(server.url, tamper)
    code, out, err = run(capsys, "audit", "verify", "--redis-url", server.url)
    assert (code, err) == (1, "")
    assert out == f"audit log damaged: the head key {AUDIT_HEAD_KEY} cannot be read\n"


def test_verify_reads_again_when_a_transition_lands_while_it_reads(
    server: RedisServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry appended between the walk and the head read is a moving log, not damage:
    verify starts over and reports the log intact with the new entry."""
    workflow_log(server.url)
    walk = audit.entries
    appended: list[bool] = []

    async def entries_then_a_transition(client: Any, **kwargs: Any) -> Any:
        async for item in walk(client, **kwargs):
            yield item
        if not appended:
            appended.append(True)
            event = Event(EventType.GRANT_EXPIRED, datetime.now(UTC), "wiki", "alice@example.com")
            await RedisWorkflowStore(client, retention=RETENTION).append_audit([event])

    monkeypatch.setattr(audit, "entries", entries_then_a_transition)
    assert run(capsys, "audit", "verify", "--redis-url", server.url) == (
        0,
        "audit log intact: 8 entries\n",
        "",
    )


def test_verify_exits_2_with_one_line_when_redis_is_unreachable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Nothing listens: exit 2 and one line on stderr saying where Redis was expected."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    code, out, err = run(capsys, "audit", "verify", "--redis-url", url)
    assert (code, out) == (2, "")
    assert err.startswith(f"countersign: cannot reach Redis at {url}: ")
    assert err.count("\n") == 1


def test_the_installed_command_prints_no_traceback_when_redis_is_down() -> None:
    """The console script itself: exit 2, one line, no Python traceback."""
    result = subprocess.run(
        [
            components.countersign(),
            "audit",
            "verify",
            "--redis-url",
            f"redis://127.0.0.1:{free_port()}/0",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("countersign: cannot reach Redis at ")


def test_verify_never_prints_the_redis_password(capsys: pytest.CaptureFixture[str]) -> None:
    """Credentials in the URL stay out of the error line."""
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    code, _, err = run(capsys, "audit", "verify", "--redis-url", url)
    assert code == 2
    assert "hunter2" not in err


# -- export ------------------------------------------------------------------------------------


def test_export_writes_every_entry_with_its_id_and_hash(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """One JSON line per entry, oldest first; each line's hash re-computes from prev and event."""
    ids = workflow_log(server.url)
    lines = exported(capsys, server.url)
    assert [line["id"] for line in lines] == ids
    previous = audit.GENESIS
    for line in lines:
        assert line["prev"] == previous
        assert line["hash"] == audit.entry_hash(line["prev"], audit.canonical(line["event"]))
        previous = line["hash"]


def test_export_by_application(server: RedisServer, capsys: pytest.CaptureFixture[str]) -> None:
    """--application wiki keeps the wiki's two entries."""
    workflow_log(server.url)
    lines = exported(capsys, server.url, "--application", "wiki")
    assert [line["event"]["type"] for line in lines] == ["justification_recorded", "grant_issued"]
    assert {line["event"]["application"] for line in lines} == {"wiki"}


def test_export_by_user_matches_the_user_or_the_actor(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """--user bob@example.com finds what BOB did to ALICE's request, though it is her access."""
    workflow_log(server.url)
    lines = exported(capsys, server.url, "--user", "bob@example.com")
    assert [line["event"]["type"] for line in lines] == [
        "request_reviewed",
        "request_approved",
        "grant_issued",
    ]


def test_export_by_type(server: RedisServer, capsys: pytest.CaptureFixture[str]) -> None:
    """--type is repeatable; the types combine as "any of"."""
    workflow_log(server.url)
    lines = exported(
        capsys, server.url, "--type", "request_approved", "--type", "justification_recorded"
    )
    assert [line["event"]["type"] for line in lines] == [
        "justification_recorded",
        "request_approved",
        "justification_recorded",
    ]


def test_export_filters_combine(server: RedisServer, capsys: pytest.CaptureFixture[str]) -> None:
    """--application grafana --type grant_issued: the one Grafana grant."""
    workflow_log(server.url)
    lines = exported(capsys, server.url, "--application", "grafana", "--type", "grant_issued")
    assert [(line["event"]["application"], line["event"]["type"]) for line in lines] == [
        ("grafana", "grant_issued")
    ]


def test_export_by_time_is_half_open_and_accepts_offsets(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Entries written at 09:00, 10:00, 11:00 and 12:00 UTC: --since 10:00 (said as 12:00+02:00)
    --until 12:00 exports the 10:00 and 11:00 ones."""
    hours = [9, 10, 11, 12]

    async def write() -> None:
        client = Redis.from_url(server.url)
        try:
            await client.flushdb()
            bodies = [{"type": "grant_issued", "hour": h} for h in hours]
            entries, head = audit.chain(audit.Head(), bodies)
            for hour, entry in zip(hours, entries, strict=True):
                ms = int(datetime(2024, 5, 6, hour, tzinfo=UTC).timestamp() * 1000)
                await client.xadd(AUDIT_KEY, entry, id=f"{ms}-0")
            await client.set(AUDIT_HEAD_KEY, head.dump())
        finally:
            await client.aclose()

    asyncio.run(write())
    lines = exported(
        capsys, server.url, "--since", "2024-05-06T12:00:00+02:00", "--until", "2024-05-06T12:00Z"
    )
    assert [line["event"]["hour"] for line in lines] == [10, 11]


def test_export_refuses_a_time_it_cannot_read(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --since that is not ISO 8601: exit 2 naming the flag, nothing on stdout."""
    code, out, err = run(
        capsys, "audit", "export", "--redis-url", server.url, "--since", "yesterday"
    )
    assert (code, out) == (2, "")
    assert err.startswith("countersign: --since: expected an ISO 8601 time")


def test_export_refuses_an_unknown_event_type(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelt --type is refused rather than silently matching nothing."""
    code, out, err = run(capsys, "audit", "export", "--redis-url", server.url, "--type", "granted")
    assert (code, out) == (2, "")
    assert "unknown event type 'granted'" in err


def test_export_keeps_an_unreadable_entry_and_exits_1(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """An entry whose event is not JSON is still written (raw), with a warning and exit 1."""

    async def tamper(w: World, ids: list[str]) -> None:
        await rewrite_entry(w.client, ids[1], {"event": "not json"})

    ids = workflow_log(server.url, tamper)
    code, out, err = run(capsys, "audit", "export", "--redis-url", server.url)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert len(lines) == 7
    assert (lines[1]["event"], lines[1]["raw"]) == (None, "not json")
    assert f"entry {ids[1]} holds no readable event" in err


def test_export_exits_2_when_redis_is_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listens: exit 2, one line on stderr, nothing on stdout."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    code, out, err = run(capsys, "audit", "export", "--redis-url", url)
    assert (code, out) == (2, "")
    assert err.startswith(f"countersign: cannot reach Redis at {url}: ")
