"""The Idempotency-Key header: a retry gets the first attempt's answer, marked as a replay; the
key belongs to one caller and one request; a running attempt, a bad key and a store that cannot
reserve the key are refused without running the call."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import pytest
import redis
import redis.asyncio

from app.adapters.api.v1.idempotency import caller_scope, fingerprint
from app.adapters.store.idempotency import RedisIdempotency, Verdict, record_key
from app.core.context import Identity
from app.services.principal import Principal
from tests.adapters.api.v1.test_openapi import CHECKED_IN
from tests.adapters.api.v1.world import (
    ALICE,
    BOB,
    DAVE,
    GRAFANA_REASON,
    PEER,
    Api,
    Persona,
    problem_of,
)

KEY = "7d0e4c52-1b9a-4f63-8a1e-3c5d2f9b6a70"
T = TypeVar("T")


def keyed(value: str = KEY) -> dict[str, str]:
    """The header of a keyed call."""
    return {"Idempotency-Key": value}


def ask_keyed(api: Api, who: Persona, justification: str = GRAFANA_REASON) -> Any:
    """`who` asks for Grafana with KEY."""
    return api.post(
        "/api/v1/access-requests",
        who=who,
        headers=keyed(),
        json={"application": "grafana", "justification": justification},
    )


def scope_of(api: Api, who: Persona, operation: str) -> tuple[str, ...]:
    """The record scope the service uses for `who` (a dev token: issuer, subject = e-mail)."""
    identity = Identity(subject=who.email, email=who.email, issuer=api.issuer.issuer)
    return (*caller_scope(Principal(identity)), operation)


def with_store(api: Api, use: Callable[[RedisIdempotency, Any], Awaitable[T]]) -> T:
    """Run `use` with the store over its own client, on the test's loop."""

    async def go() -> T:
        client = redis.asyncio.Redis.from_url(api.redis_url)
        try:
            return await use(
                RedisIdempotency(client, ttl=api.settings.retention.idempotency_ttl), client
            )
        finally:
            await client.aclose()

    return api.loop.run_until_complete(go())


def test_a_retry_gets_the_first_answer_again(api: Api) -> None:
    """The same key and request: the same status and body, with Idempotent-Replayed: true."""
    first = ask_keyed(api, ALICE)
    again = ask_keyed(api, ALICE)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


def test_a_retried_revocation_is_not_a_conflict(api: Api) -> None:
    """BOB's retry of a revocation that worked answers 200 with the revoked grant, not 409."""
    grant = api.granted(ALICE)
    path = f"/api/v1/grants/{grant['id']}"
    first = api.delete(path, who=BOB, headers=keyed())
    again = api.delete(path, who=BOB, headers=keyed())
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert again.json()["status"] == "revoked"


def test_refusals_are_replayed_too(api: Api) -> None:
    """A 4xx is the answer to that request: the retry repeats it, problem document and all."""
    request = api.ask(ALICE)
    path = f"/api/v1/access-requests/{request['id']}/approve"
    first = api.post(path, who=ALICE, headers=keyed())
    again = api.post(path, who=ALICE, headers=keyed())
    assert problem_of(first)["code"] == "self-approval"
    assert (again.status_code, again.content) == (403, first.content)
    assert again.headers["content-type"] == "application/problem+json"
    assert again.headers["idempotent-replayed"] == "true"


def test_the_same_key_with_another_body_is_refused(api: Api) -> None:
    """Reusing a key for a different request is a client bug: 422 idempotency-key-reused."""
    assert ask_keyed(api, ALICE).status_code == 201
    response = ask_keyed(api, ALICE, justification="INC-9999 another outage")
    assert response.status_code == 422
    assert problem_of(response)["code"] == "idempotency-key-reused"


def test_the_same_key_on_another_record_is_refused(api: Api) -> None:
    """The key belongs to the operation: approving a second request with it is a reuse."""
    first = api.ask(ALICE)
    second = api.ask(DAVE)
    ok = api.post(f"/api/v1/access-requests/{first['id']}/approve", who=BOB, headers=keyed())
    assert ok.status_code == 200
    response = api.post(f"/api/v1/access-requests/{second['id']}/approve", who=BOB, headers=keyed())
    assert problem_of(response)["code"] == "idempotency-key-reused"
    assert api.get(f"/api/v1/access-requests/{second['id']}", who=BOB).json()["status"] == (
        "pending"
    )


def test_another_caller_with_the_same_key_gets_nothing_of_the_first(api: Api) -> None:
    """DAVE's call with ALICE's key runs as his own; ALICE's retry still gets her answer."""
    alices = ask_keyed(api, ALICE)
    daves = ask_keyed(api, DAVE)
    assert daves.status_code == 201
    assert "idempotent-replayed" not in daves.headers
    assert daves.json()["request"]["requester"]["user"] == DAVE.email
    again = ask_keyed(api, ALICE)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["request"]["id"] == alices.json()["request"]["id"]


def test_a_retry_while_the_first_attempt_runs_is_told_to_wait(api: Api) -> None:
    """An attempt holds the key (on another replica, say): 409 idempotency-key-in-flight with
    Retry-After, and the call does not run."""
    grant = api.granted(ALICE)
    path = f"/api/v1/grants/{grant['id']}"
    scope = scope_of(api, BOB, "DELETE /api/v1/grants/{grant_id}")

    async def hold(store: RedisIdempotency, _client: Any) -> Verdict:
        found = await store.reserve(scope, KEY, fingerprint("DELETE", path, "", b""))
        return found.verdict

    assert with_store(api, hold) is Verdict.RESERVED
    response = api.delete(path, who=BOB, headers=keyed())
    assert response.status_code == 409
    assert problem_of(response)["code"] == "idempotency-key-in-flight"
    assert 1 <= int(response.headers["retry-after"]) <= 10
    assert api.get(path, who=BOB).json()["status"] == "active"


def delete_with(api: Api, path: str, who: Persona, keys: list[bytes]) -> httpx.Response:
    """DELETE as `who` sending these raw Idempotency-Key header values, as given."""
    headers = [(b"authorization", f"Bearer {api.token(who)}".encode())]
    headers += [(b"idempotency-key", value) for value in keys]

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=api.app, client=PEER)
        async with httpx.AsyncClient(transport=transport, base_url="http://countersign") as c:
            return await c.delete(path, headers=headers)

    return api.loop.run_until_complete(go())


@pytest.mark.parametrize(
    "keys",
    [[b""], [b"x" * 256], [b"has space"], ["caf\u00e9".encode()], [b"tab\there"], [b"a", b"b"]],
    ids=["empty", "too-long", "space", "non-ascii", "control", "two-keys"],
)
def test_a_bad_key_is_refused(api: Api, keys: list[bytes]) -> None:
    """Not exactly one key of 1 to 255 visible ASCII characters: 400 bad-idempotency-key, and
    the call does not run."""
    grant = api.granted(ALICE)
    path = f"/api/v1/grants/{grant['id']}"
    response = delete_with(api, path, BOB, keys)
    assert response.status_code == 400
    assert problem_of(response)["code"] == "bad-idempotency-key"
    assert api.get(path, who=BOB).json()["status"] == "active"


def test_the_longest_key_is_accepted(api: Api) -> None:
    """255 visible ASCII characters, punctuation included, make a key."""
    grant = api.granted(ALICE)
    path = f"/api/v1/grants/{grant['id']}"
    key = ("!~" + "k" * 253).encode()
    first, again = (delete_with(api, path, BOB, [key]) for _ in range(2))
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["idempotent-replayed"] == "true"


def test_a_key_that_cannot_be_reserved_stops_the_call(api: Api) -> None:
    """The store refuses the reservation: 503 store-unavailable, and the call does not run
    unprotected (the grant is still active)."""
    grant = api.granted(ALICE)
    path = f"/api/v1/grants/{grant['id']}"
    record = record_key(scope_of(api, BOB, "DELETE /api/v1/grants/{grant_id}"), KEY)
    client = redis.Redis.from_url(api.redis_url)
    try:
        client.set(record, "not a record")  # every script on this key now fails
    finally:
        client.close()
    response = api.delete(path, who=BOB, headers=keyed())
    assert response.status_code == 503
    assert problem_of(response)["code"] == "store-unavailable"
    assert response.headers["retry-after"] == "1"
    assert api.get(path, who=BOB).json()["status"] == "active"


def test_invalid_input_does_not_use_the_key_up(api: Api) -> None:
    """Refused before the endpoint ran (422 invalid-input): the corrected call with the same key
    runs, instead of being told the key was used for another request."""
    request = api.ask(ALICE)
    path = f"/api/v1/access-requests/{request['id']}/deny"
    bad = api.post(path, who=BOB, headers=keyed(), json={"comment": ""})
    assert problem_of(bad)["code"] == "invalid-input"
    good = api.post(path, who=BOB, headers=keyed(), json={"comment": "not during the freeze"})
    assert good.status_code == 200
    assert good.json()["status"] == "denied"


def test_answers_are_kept_for_the_idempotency_ttl(api: Api) -> None:
    """The stored answer expires after COUNTERSIGN_IDEMPOTENCY_TTL (24h by default)."""
    ask_keyed(api, ALICE)
    record = record_key(scope_of(api, ALICE, "POST /api/v1/access-requests"), KEY)

    async def ttl(_store: RedisIdempotency, client: Any) -> int:
        return int(await client.pttl(record))

    left = timedelta(milliseconds=with_store(api, ttl))
    assert api.settings.retention.idempotency_ttl - timedelta(minutes=5) < left
    assert left <= api.settings.retention.idempotency_ttl


def test_every_state_changing_operation_takes_the_header() -> None:
    """Each POST, PUT, PATCH and DELETE of the REST API in the checked-in document refers to
    the one reusable Idempotency-Key parameter; no GET does. (Slack's interactivity endpoint is
    called by Slack, which sends no such header.)"""
    document = json.loads(CHECKED_IN.read_text())
    reference = {"$ref": "#/components/parameters/IdempotencyKey"}
    assert document["components"]["parameters"]["IdempotencyKey"]["in"] == "header"
    api = {
        path: methods for path, methods in document["paths"].items() if path.startswith("/api/v1/")
    }
    assert len(api) < len(document["paths"])
    assert "/slack/interactions" in document["paths"]
    for methods in api.values():
        for method, operation in methods.items():
            takes = reference in operation.get("parameters", [])
            assert takes is (method in {"post", "put", "patch", "delete"}), (method, operation)
