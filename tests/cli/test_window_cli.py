"""`countersign requests create --starts-at` and `countersign grants extend` against a running
service: a planned window lists as upcoming, and an extension is a request of its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.cli import main
from tests.adapters.api.v1.live_service import ALICE, BOB, POLICY_DIR, Person, Service
from tests.support.countersign import start_countersign
from tests.support.redis_server import RedisServerFactory

Captured = pytest.CaptureFixture[str]


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, redis_server_factory: RedisServerFactory
) -> Iterator[Service]:
    """`countersign serve` in dev mode against its own Redis."""
    redis = redis_server_factory()
    running = start_countersign(
        tmp_path_factory.mktemp("window-cli"),
        redis_url=redis.url,
        policy_dir=POLICY_DIR,
        public_url="http://auth.example.com:8000",
    )
    try:
        yield Service(running)
    finally:
        running.stop()


def cli(service: Service, who: Person, *argv: str) -> int:
    """Run `countersign ...` as `who`, with --token and --api."""
    return main([*argv, "--api", service.url, "--token", service.token(who)])


def test_a_planned_request_lists_as_upcoming_once_approved(
    service: Service, capsys: Captured
) -> None:
    """`--starts-at` opens a request that prints its start; approved, `grants list` shows the
    grant as upcoming."""
    open_now = service.ask(ALICE)  # whatever ALICE had is cleared; withdraw the new request
    service.call("POST", f"/api/v1/access-requests/{open_now['id']}/cancel", ALICE)
    start = (datetime.now(UTC) + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    argv = ("requests", "create", "grafana", "--reason", "CHG-77 maintenance tonight")
    assert cli(service, ALICE, *argv, "--duration", "2h", "--starts-at", start, "--json") == 0
    request = json.loads(capsys.readouterr().out)["request"]
    assert request["starts_at"] == start
    assert cli(service, ALICE, "requests", "show", request["id"]) == 0
    assert f"starts        {start}" in capsys.readouterr().out
    approved = service.call("POST", f"/api/v1/access-requests/{request['id']}/approve", BOB)
    assert cli(service, ALICE, "grants", "list", "--mine", "--active") == 0
    listed = capsys.readouterr().out
    assert approved["grant_id"] in listed
    assert "upcoming" in listed
    service.call("DELETE", f"/api/v1/grants/{approved['grant_id']}", ALICE)


def test_grants_extend_opens_an_extension_request(service: Service, capsys: Captured) -> None:
    """`grants extend` prints the request, which names the grant it extends."""
    grant = service.grant(ALICE)
    argv = ("grants", "extend", grant["id"], "--reason", "INC-42 still digging")
    assert cli(service, ALICE, *argv, "--duration", "1h") == 0
    out = capsys.readouterr().out
    assert f"extends       {grant['id']}" in out
    assert "pending" in out
    assert cli(service, ALICE, *argv, "-q") == 0
    assert capsys.readouterr().out.strip().startswith("req_")
