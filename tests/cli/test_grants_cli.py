"""`countersign grants list|revoke` against a running service."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from app.cli import main
from tests.adapters.api.v1.live_service import ALICE, BOB, MALLORY, POLICY_DIR, Person, Service
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
        tmp_path_factory.mktemp("grants-cli"),
        redis_url=redis.url,
        policy_dir=POLICY_DIR,
        public_url="http://auth.example.com:8000",
    )
    try:
        yield Service(running)
    finally:
        running.stop()


def cli(service: Service, who: Person, *argv: str) -> int:
    """Run `countersign grants ...` as `who`, with --token and --api."""
    return main(["grants", *argv, "--api", service.url, "--token", service.token(who)])


def test_list_mine_shows_my_grant(service: Service, capsys: Captured) -> None:
    """ALICE sees her grant with its duration."""
    grant = service.grant(ALICE)
    assert cli(service, ALICE, "list", "--mine", "--active") == 0
    out = capsys.readouterr().out
    assert grant["id"] in out
    assert "1h" in out


def test_list_json_is_the_api_page(service: Service, capsys: Captured) -> None:
    """`--json` prints the page as the API sent it."""
    grant = service.grant(ALICE)
    assert cli(service, BOB, "list", "--application", "grafana", "--json") == 0
    assert grant["id"] in [g["id"] for g in json.loads(capsys.readouterr().out)["items"]]


def test_bob_revokes_alices_grant(service: Service, capsys: Captured) -> None:
    """One line: the grant, the application, the user and who revoked it."""
    grant = service.grant(ALICE)
    assert cli(service, BOB, "revoke", grant["id"], "--reason", "incident over") == 0
    out = capsys.readouterr().out
    assert out.split() == [grant["id"], "grafana", ALICE.email, "revoked", "by", BOB.email]


def test_alice_ends_her_own_grant(service: Service, capsys: Captured) -> None:
    """The holder's revoke is reported as ending it early."""
    grant = service.grant(ALICE)
    assert cli(service, ALICE, "revoke", grant["id"]) == 0
    assert "ended early by its holder" in capsys.readouterr().out


def test_revoking_someone_elses_grant_is_one_line(service: Service, capsys: Captured) -> None:
    """MALLORY: 404, exit 1, no traceback."""
    grant = service.grant(ALICE)
    assert cli(service, MALLORY, "revoke", grant["id"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("countersign: 404 not-found:")
    assert "Traceback" not in err


def test_an_empty_listing_says_none(service: Service, capsys: Captured) -> None:
    """No grants for this user: `(none)`."""
    assert cli(service, MALLORY, "list", "--mine") == 0
    assert capsys.readouterr().out.strip() == "(none)"
