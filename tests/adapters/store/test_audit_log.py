"""The hash-chained audit log: `verify` accepts an untouched log and names the first entry an
edit or a deletion broke, the newest included."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest

from app.adapters.store import audit
from app.adapters.store.keys import AUDIT_HEAD_KEY, AUDIT_KEY
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import World, event_of, rewrite_entry, seven_entries, world


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def verdict_after(
    url: str, tamper: Callable[[World, list[str]], Awaitable[None]]
) -> tuple[audit.Verdict, list[str]]:
    """Write the seven-entry workflow, apply `tamper`, and verify."""

    async def go() -> tuple[audit.Verdict, list[str]]:
        async with world(url) as w:
            ids = await seven_entries(w)
            await tamper(w, ids)
            return await audit.verify(w.client), ids

    return asyncio.run(go())


async def untouched(_w: World, _ids: list[str]) -> None:
    """Leave the log alone."""


def test_an_untouched_log_verifies(server: RedisServer) -> None:
    """Seven chained entries and a head that agrees: intact, seven checked."""
    verdict, _ = verdict_after(server.url, untouched)
    assert verdict == audit.Verdict(ok=True, checked=7)


def test_an_empty_log_verifies(server: RedisServer) -> None:
    """No entries and no head is an intact, empty log."""

    async def go() -> audit.Verdict:
        async with world(server.url) as w:
            return await audit.verify(w.client)

    assert asyncio.run(go()) == audit.Verdict(ok=True, checked=0)


def test_an_edited_entry_is_named(server: RedisServer) -> None:
    """Changing BOB's review comment in the third entry (same id) fails that entry's hash."""

    async def tamper(w: World, ids: list[str]) -> None:
        event = await event_of(w.client, ids[2])
        assert (event["type"], event["data"]["comment"]) == ("request_reviewed", "ok")
        event["data"]["comment"] = "approved by the CTO"
        await rewrite_entry(w.client, ids[2], {"event": audit.canonical(event)})

    verdict, ids = verdict_after(server.url, tamper)
    assert (verdict.ok, verdict.bad_entry, verdict.checked) == (False, ids[2], 2)
    assert verdict.problem is not None
    assert "does not match its hash" in verdict.problem


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(server: RedisServer) -> None:
    """An editor who also recomputes the entry's hash is caught by the next entry's `prev`."""

    async def tamper(w: World, ids: list[str]) -> None:
        rows = await w.client.xrange(AUDIT_KEY, min=ids[2], max=ids[2])
        fields = {k.decode(): v.decode() for k, v in rows[0][1].items()}
        event = json.loads(fields["event"])
        event["actor"] = "cto@example.com"
        text = audit.canonical(event)
        change = {"event": text, "hash": audit.entry_hash(fields["prev"], text)}
        await rewrite_entry(w.client, ids[2], change)

    verdict, ids = verdict_after(server.url, tamper)
    assert (verdict.ok, verdict.bad_entry) == (False, ids[3])
    assert verdict.problem is not None
    assert "previous hash" in verdict.problem


@pytest.mark.parametrize("position", [0, 3], ids=["first", "middle"])
def test_a_deleted_entry_is_named_by_the_one_after_it(server: RedisServer, position: int) -> None:
    """XDEL of an entry breaks the `prev` link of the next entry, which verify names."""

    async def tamper(w: World, ids: list[str]) -> None:
        await w.client.xdel(AUDIT_KEY, ids[position])

    verdict, ids = verdict_after(server.url, tamper)
    assert (verdict.ok, verdict.bad_entry, verdict.checked) == (False, ids[position + 1], position)


def test_a_deleted_newest_entry_is_caught_by_the_head(server: RedisServer) -> None:
    """Without its newest entry the chain is still whole, but the head records one more."""

    async def tamper(w: World, ids: list[str]) -> None:
        await w.client.xdel(AUDIT_KEY, ids[-1])

    verdict, ids = verdict_after(server.url, tamper)
    assert (verdict.ok, verdict.bad_entry, verdict.checked) == (False, ids[-2], 6)
    assert verdict.problem is not None
    assert "head records 7" in verdict.problem


def test_an_entry_appended_behind_the_heads_back_is_caught(server: RedisServer) -> None:
    """A forged entry that chains correctly but was not written with the head is flagged."""

    async def tamper(w: World, ids: list[str]) -> None:
        head = audit.Head.parse(await w.client.get(AUDIT_HEAD_KEY))
        forged = audit.canonical({"type": "grant_issued", "user": "mallory@partner.example.net"})
        entries, _ = audit.chain(head, [json.loads(forged)])
        await w.client.xadd(AUDIT_KEY, entries[0])

    verdict, _ = verdict_after(server.url, tamper)
    assert (verdict.ok, verdict.checked) == (False, 8)
