"""`countersign audit export|verify` with the policy and session kinds in the log: an auditor
filters by them like any workflow kind, and the chain through them verifies."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.cli import main
from app.core.approvals import Event, EventType
from app.core.audit_events import LoadedSet, ReloadTrigger, policy_loaded, policy_reloaded
from app.core.policy.digest import SetChanges
from tests.support.redis_server import RedisServer, RedisServerFactory

AT = datetime.now(UTC).replace(microsecond=0)
FIRST = LoadedSet("a" * 64, "aaaaaaaaaaaa", 1)
SECOND = LoadedSet("b" * 64, "bbbbbbbbbbbb", 2)
ERIN = "erin@example.com"


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def admin_log(url: str) -> None:
    """An emptied Redis whose log holds a start-up load, a reload and ERIN ending sessions."""
    events = [
        policy_loaded(FIRST, replica="web-1/4242", at=AT),
        policy_reloaded(
            SECOND,
            previous=FIRST,
            changes=SetChanges(applications_added=("grafana",)),
            trigger=ReloadTrigger.FILE_CHANGE,
            replica="web-1/4242",
            at=AT + timedelta(seconds=1),
        ),
        Event(
            type=EventType.SESSIONS_REVOKED,
            at=AT + timedelta(seconds=2),
            application="",
            user="u-alice",
            actor=ERIN,
            data={"issuer": "https://idp.example.com", "subject": "u-alice"},
        ),
    ]

    async def go() -> None:
        client = Redis.from_url(url)
        try:
            await client.flushdb()
            store = RedisWorkflowStore(client, retention=timedelta(days=1), redis_timeout=2.0)
            await store.append_audit(events)
        finally:
            await client.aclose()

    asyncio.run(go())


def export(capsys: pytest.CaptureFixture[str], url: str, *filters: str) -> list[dict[str, Any]]:
    """The events `audit export` writes; fails unless it exits 0 with nothing on stderr."""
    code = main(["audit", "export", "--redis-url", url, *filters])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    return [json.loads(line)["event"] for line in out.splitlines()]


def test_export_filters_policy_reloads_by_type(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--type policy_reloaded` lists the reload alone, with both digests."""
    admin_log(server.url)
    events = export(capsys, server.url, "--type", "policy_reloaded")
    assert [e["type"] for e in events] == ["policy_reloaded"]
    assert (events[0]["data"]["digest"], events[0]["data"]["previous_digest"]) == (
        SECOND.digest,
        FIRST.digest,
    )


def test_export_filters_ended_sessions_by_type_and_admin(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--type sessions_revoked --user ERIN` finds what ERIN ended, and whose sessions."""
    admin_log(server.url)
    events = export(capsys, server.url, "--type", "sessions_revoked", "--user", ERIN)
    assert [(e["type"], e["actor"], e["user"]) for e in events] == [
        ("sessions_revoked", ERIN, "u-alice")
    ]


def test_the_chain_through_policy_and_session_entries_verifies(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`audit verify`: exit 0, three entries."""
    admin_log(server.url)
    code = main(["audit", "verify", "--redis-url", server.url])
    assert (code, capsys.readouterr().out) == (0, "audit log intact: 3 entries\n")


def test_the_type_option_lists_the_new_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    """`audit export --help` names the policy and session kinds among the types."""
    with pytest.raises(SystemExit):
        main(["audit", "export", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for kind in ("policy_loaded", "policy_reloaded", "policy_reload_rejected", "sessions_revoked"):
        assert kind in help_text
