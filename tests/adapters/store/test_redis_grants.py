"""The grant read path against a real Redis-compatible server: keyed by person and scope."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from app.adapters.store.keys import (
    access_keys,
    access_tag,
    grant_key,
    justified_key,
    legacy_pair_keys,
    open_request_key,
)
from app.adapters.store.redis_grants import RedisGrantReader
from app.core.approvals import Person, Scope
from app.core.decision import GrantState
from tests.support.redis_server import RedisServer, RedisServerFactory

EXPIRES = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
IDP = "https://idp.example.com"
ALICE = Person(IDP, "u-alice")
BOB = Person(IDP, "u-bob")
LENIENT = Scope("grafana", "f" * 64)
STRICT = Scope("grafana", "e" * 64)


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One server for this module."""
    return redis_server_factory()


def run_with(url: str, setup: dict[str, str], person: Person, scope: Scope) -> GrantState:
    async def go() -> GrantState:
        client = Redis.from_url(url)
        try:
            await client.flushdb()
            for key, value in setup.items():
                await client.set(key, value)
            return await RedisGrantReader(client).grant_state(person, scope)
        finally:
            await client.aclose()

    return asyncio.run(go())


def pair_value(grant_id: str, scope: Scope) -> str:
    """An access key's value as the workflow store writes it."""
    return json.dumps({"id": grant_id, "expires_at": EXPIRES.timestamp(), "policy": scope.policy})


def test_nothing_stored_is_no_grant(server: RedisServer) -> None:
    """An empty store answers an empty GrantState for the scope asked about."""
    assert run_with(server.url, {}, ALICE, LENIENT) == GrantState(policy=LENIENT.policy)


def test_grant_open_request_and_justification_read_in_one_go(server: RedisServer) -> None:
    """All three keys of a person and scope are read and parsed."""
    state = run_with(
        server.url,
        {
            grant_key(ALICE, LENIENT): pair_value("g1", LENIENT),
            open_request_key(ALICE, LENIENT): "r1",
            justified_key(ALICE, LENIENT): pair_value("j1", LENIENT),
        },
        ALICE,
        LENIENT,
    )
    assert state == GrantState(
        grant_expires_at=EXPIRES,
        grant_id="g1",
        justified_until=EXPIRES,
        pending_request_id="r1",
        policy=LENIENT.policy,
    )


def test_garbage_grant_is_no_grant(server: RedisServer) -> None:
    """A value that does not parse grants nothing (fail closed)."""
    state = run_with(
        server.url,
        {grant_key(ALICE, LENIENT): "{not json", justified_key(ALICE, LENIENT): "soon"},
        ALICE,
        LENIENT,
    )
    assert state.grant_expires_at is None
    assert state.justified_until is None


def test_another_persons_grant_does_not_count(server: RedisServer) -> None:
    """BOB's grant on Grafana says nothing about ALICE's access."""
    state = run_with(
        server.url, {grant_key(BOB, LENIENT): pair_value("g", LENIENT)}, ALICE, LENIENT
    )
    assert state.grant_id is None


def test_a_grant_under_another_policy_of_the_application_is_not_read(server: RedisServer) -> None:
    """ALICE's grant under the lenient policy is absent when the strict one is asked about."""
    state = run_with(
        server.url, {grant_key(ALICE, LENIENT): pair_value("g", LENIENT)}, ALICE, STRICT
    )
    assert (state.grant_id, state.grant_expires_at) == (None, None)


def test_a_value_naming_another_policy_is_no_grant(server: RedisServer) -> None:
    """A value under the right key but naming another fingerprint grants nothing."""
    state = run_with(
        server.url,
        {
            grant_key(ALICE, STRICT): pair_value("g", LENIENT),
            justified_key(ALICE, STRICT): pair_value("j", LENIENT),
        },
        ALICE,
        STRICT,
    )
    assert (state.grant_id, state.justified_until) == (None, None)


def test_an_old_value_without_a_policy_is_no_grant(server: RedisServer) -> None:
    """A value written before grants named their policy counts for none (fail closed)."""
    old = json.dumps({"id": "g", "expires_at": EXPIRES.timestamp()})
    state = run_with(server.url, {grant_key(ALICE, LENIENT): old}, ALICE, LENIENT)
    assert state.grant_id is None


def test_old_per_user_keys_are_never_read(server: RedisServer) -> None:
    """The earlier (user name, application) keys grant nothing, whatever they hold."""
    grant, open_key, justified = legacy_pair_keys("alice@example.com", "grafana")
    state = run_with(
        server.url,
        {
            grant: pair_value("g", LENIENT),
            open_key: "r",
            justified: pair_value("j", LENIENT),
        },
        ALICE,
        LENIENT,
    )
    assert state == GrantState(policy=LENIENT.policy)


def test_the_same_subject_from_another_issuer_is_another_person(server: RedisServer) -> None:
    """A grant of (idp, u-alice) is not read for (other idp, u-alice)."""
    stranger = Person("https://other-idp.example.net", "u-alice")
    state = run_with(
        server.url, {grant_key(ALICE, LENIENT): pair_value("g", LENIENT)}, stranger, LENIENT
    )
    assert state.grant_id is None


def test_access_keys_share_one_hash_tag_and_resist_brace_injection() -> None:
    """Every key has the one `{cs}` tag; braces in a subject cannot add another."""
    person = Person(IDP, "al}ice{x}@example.com")
    keys = access_keys(person, LENIENT)
    tag = access_tag(person, LENIENT)
    assert all(k.startswith("cs:{cs}:") and k.count("{") == 1 and tag in k for k in keys)


def test_access_tags_cannot_be_confused_by_moving_a_boundary() -> None:
    """(issuer "a", subject "bc") and (issuer "ab", subject "c") name different keys."""
    assert access_tag(Person("a", "bc"), LENIENT) != access_tag(Person("ab", "c"), LENIENT)
    assert access_tag(Person("a\x00b", "c"), LENIENT) != access_tag(Person("a", "b\x00c"), LENIENT)
