"""The grant read path against a real Redis-compatible server."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from app.adapters.store.keys import grant_key, justified_key, open_request_key, pair_keys, pair_tag
from app.adapters.store.redis_grants import RedisGrantReader
from app.core.decision import GrantState
from tests.support.redis_server import RedisServer, RedisServerFactory

EXPIRES = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One server for this module."""
    return redis_server_factory()


def run_with(url: str, setup: dict[str, str], user: str, app: str) -> GrantState:
    async def go() -> GrantState:
        client = Redis.from_url(url)
        try:
            await client.flushdb()
            for key, value in setup.items():
                await client.set(key, value)
            return await RedisGrantReader(client).grant_state(user, app)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_nothing_stored_is_no_grant(server: RedisServer) -> None:
    """An empty store answers the empty GrantState."""
    assert run_with(server.url, {}, "alice@example.com", "grafana") == GrantState()


def test_grant_open_request_and_justification_read_in_one_go(server: RedisServer) -> None:
    """All three keys of a pair are read and parsed."""
    user, app = "alice@example.com", "grafana"
    state = run_with(
        server.url,
        {
            grant_key(user, app): json.dumps({"id": "g1", "expires_at": EXPIRES.timestamp()}),
            open_request_key(user, app): "r1",
            justified_key(user, app): json.dumps({"id": "j1", "expires_at": EXPIRES.timestamp()}),
        },
        user,
        app,
    )
    assert state == GrantState(
        grant_expires_at=EXPIRES, grant_id="g1", justified_until=EXPIRES, pending_request_id="r1"
    )


def test_garbage_grant_is_no_grant(server: RedisServer) -> None:
    """A value that does not parse grants nothing (fail closed)."""
    user, app = "alice@example.com", "grafana"
    state = run_with(
        server.url, {grant_key(user, app): "{not json", justified_key(user, app): "soon"}, user, app
    )
    assert state.grant_expires_at is None
    assert state.justified_until is None


def test_another_users_grant_does_not_count(server: RedisServer) -> None:
    """Bob's grant on Grafana says nothing about Alice's access."""
    state = run_with(
        server.url,
        {grant_key("bob@example.com", "grafana"): json.dumps({"id": "g", "expires_at": 2e9})},
        "alice@example.com",
        "grafana",
    )
    assert state == GrantState()


def test_pair_keys_share_one_hash_tag_and_resist_brace_injection() -> None:
    """Every key has the one `{cs}` tag; braces in a user name cannot add another."""
    keys = pair_keys("al}ice{x}@example.com", "grafana")
    tag = pair_tag("al}ice{x}@example.com", "grafana")
    assert all(k.startswith("cs:{cs}:") and k.count("{") == 1 and tag in k for k in keys)
    assert pair_tag("a", "bc") != pair_tag("ab", "c")
