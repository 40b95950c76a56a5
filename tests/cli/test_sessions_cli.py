"""`countersign sessions revoke` against a running service."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from app.cli import main
from tests.adapters.api.v1.live_service import ALICE, POLICY_DIR, Person, Service
from tests.support.countersign import start_countersign
from tests.support.redis_server import RedisServerFactory

Captured = pytest.CaptureFixture[str]
ERIN = Person("erin@example.com", ("countersign-admins",))
IDP = "https://idp.example.com"


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, redis_server_factory: RedisServerFactory
) -> Iterator[Service]:
    """`countersign serve` in dev mode against its own Redis."""
    redis = redis_server_factory()
    running = start_countersign(
        tmp_path_factory.mktemp("sessions-cli"),
        redis_url=redis.url,
        policy_dir=POLICY_DIR,
        public_url="http://auth.example.com:8000",
    )
    try:
        yield Service(running)
    finally:
        running.stop()


def cli(service: Service, who: Person, *argv: str) -> int:
    """Run `countersign sessions ...` as `who`, with --token and --api."""
    return main(["sessions", *argv, "--api", service.url, "--token", service.token(who)])


def test_admin_ends_a_persons_sessions(service: Service, capsys: Captured) -> None:
    """ERIN ends ALICE's sessions: one line naming the person and the not-before time."""
    assert cli(service, ERIN, "revoke", "--issuer", IDP, "--subject", "u-alice") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"sessions ended: {IDP}  u-alice  (issued before ")


def test_json_is_the_api_answer(service: Service, capsys: Captured) -> None:
    """`--json` prints the API's answer."""
    assert cli(service, ERIN, "revoke", "--issuer", IDP, "--subject", "u-bob", "--json") == 0
    assert json.loads(capsys.readouterr().out)["subject"] == "u-bob"


def test_non_admin_is_refused(service: Service, capsys: Captured) -> None:
    """ALICE is refused with the API's problem code, exit status 1."""
    assert cli(service, ALICE, "revoke", "--issuer", IDP, "--subject", "u-bob") == 1
    assert "403 admin-only" in capsys.readouterr().err
