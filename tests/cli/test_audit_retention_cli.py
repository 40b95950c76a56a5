"""`countersign audit verify|export` after retention trimmed the oldest entries: verify says
what was trimmed and proves the kept part from the checkpoint; export carries the checkpoint."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from app.adapters.store import audit
from app.adapters.store.keys import AUDIT_CHECKPOINT_KEY
from app.adapters.store.retention import trim_audit_before
from app.cli import main
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import seven_entries, world

AT = datetime(2030, 1, 1, 12, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def trimmed_log(url: str, *, keep_from: int = 3, damage: str | None = None) -> list[str]:
    """The seven-entry workflow with the entries before `keep_from` trimmed by retention at
    AT; `damage` replaces the checkpoint's hash. The entry ids."""

    async def go() -> list[str]:
        async with world(url) as w:
            ids = await seven_entries(w)
            assert await trim_audit_before(w.client, ids[keep_from], now=AT) == keep_from
            if damage is not None:
                body = json.loads(await w.client.get(AUDIT_CHECKPOINT_KEY))
                body["hash"] = damage
                await w.client.set(AUDIT_CHECKPOINT_KEY, json.dumps(body))
            return ids

    return asyncio.run(go())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`countersign ARGV` in-process: exit code, stdout, stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_says_what_retention_trimmed_and_that_the_rest_verifies(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three entries trimmed: exit 0, naming the last trimmed entry, when, and the checkpoint
    hash the four kept entries verify from."""
    ids = trimmed_log(server.url)
    checkpoint = asyncio.run(_checkpoint(server.url))
    assert run(capsys, "audit", "verify", "--redis-url", server.url) == (
        0,
        f"audit log intact: 3 entries up to {ids[2]} were trimmed by retention at "
        f"2030-01-01T12:30:00Z; the kept 4 entries verify from checkpoint {checkpoint.hash}\n",
        "",
    )


def test_verify_fails_when_the_checkpoint_was_altered(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint hash that does not lead to the first kept entry: exit 1, naming it."""
    ids = trimmed_log(server.url, damage="0" * 63 + "1")
    code, out, _ = run(capsys, "audit", "verify", "--redis-url", server.url)
    assert code == 1
    assert out.splitlines()[0].startswith(
        f"audit log damaged at entry {ids[3]}: previous hash does not match the retention "
        "checkpoint"
    )


def test_verify_fails_on_an_unreadable_checkpoint(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Garbage in the checkpoint key: exit 1 with one line naming the key."""
    trimmed_log(server.url, damage="not a hash")
    code, out, _ = run(capsys, "audit", "verify", "--redis-url", server.url)
    assert code == 1
    assert out.splitlines()[0] == (
        f"audit log damaged: the retention checkpoint {AUDIT_CHECKPOINT_KEY} cannot be read"
    )


def test_export_starts_with_the_checkpoint_the_entries_chain_from(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first line is the checkpoint; the first kept entry's prev is its hash, and an
    auditor can re-check the kept chain from there."""
    ids = trimmed_log(server.url)
    code, out, err = run(capsys, "audit", "export", "--redis-url", server.url)
    assert (code, err) == (0, "")
    first, *entries = [json.loads(line) for line in out.splitlines()]
    assert first == {
        "checkpoint": {
            "id": ids[2],
            "hash": entries[0]["prev"],
            "count": 3,
            "at": "2030-01-01T12:30:00Z",
        }
    }
    assert [e["id"] for e in entries] == ids[3:]
    prev = first["checkpoint"]["hash"]
    for entry in entries:
        assert entry["hash"] == audit.entry_hash(prev, audit.canonical(entry["event"]))
        prev = entry["hash"]


async def _checkpoint(url: str) -> audit.Checkpoint:
    async with world(url, flush=False) as w:
        checkpoint = audit.Checkpoint.parse(await w.client.get(AUDIT_CHECKPOINT_KEY))
    assert checkpoint is not None
    return checkpoint
