"""`countersign grants break-glass|unreviewed|judge` against a running service whose database
console lets people on call break the glass and DBA leads review it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from tests.adapters.api.v1.live_service import ALICE, Person, Service
from tests.support.countersign import start_countersign
from tests.support.redis_server import RedisServerFactory

Captured = pytest.CaptureFixture[str]
pytestmark = pytest.mark.redis

POLICIES = Path(__file__).resolve().parents[1] / "adapters" / "api" / "v1" / "emergency_policies"
OLGA = Person("olga@example.com", ("engineering", "oncall"))
CAROL = Person("carol@example.com", ("dba", "dba-leads"))


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, redis_server_factory: RedisServerFactory
) -> Iterator[Service]:
    """`countersign serve` in dev mode against its own Redis."""
    redis = redis_server_factory()
    running = start_countersign(
        tmp_path_factory.mktemp("break-glass-cli"),
        redis_url=redis.url,
        policy_dir=POLICIES,
        public_url="http://auth.example.com:8000",
    )
    try:
        yield Service(running)
    finally:
        running.stop()


def cli(service: Service, who: Person, *argv: str) -> int:
    """Run `countersign grants ...` as `who`, with --token and --api."""
    return main(["grants", *argv, "--api", service.url, "--token", service.token(who)])


def test_break_glass_then_judge_not_justified(service: Service, capsys: Captured) -> None:
    """OLGA breaks the glass (-q: the grant id); CAROL lists it and judges it not justified:
    the grant is revoked and leaves the list."""
    reason = "INC-4711 the primary is down"
    assert cli(service, OLGA, "break-glass", "db-console", "--reason", reason, "-q") == 0
    grant_id = capsys.readouterr().out.strip()
    assert grant_id.startswith("grt_")
    assert cli(service, CAROL, "unreviewed", "-q") == 0
    assert capsys.readouterr().out.split() == [grant_id]
    assert cli(service, CAROL, "judge", grant_id, "--not-justified", "--comment", "none") == 0
    out = capsys.readouterr().out
    assert "revoked" in out
    assert "not-justified" in out
    assert cli(service, CAROL, "unreviewed", "-q") == 0
    assert capsys.readouterr().out.split() == []


def test_someone_not_on_call_is_refused_in_one_line(service: Service, capsys: Captured) -> None:
    """ALICE: 403, exit 1, the code in one line."""
    assert cli(service, ALICE, "break-glass", "db-console", "--reason", "INC-1 something") == 1
    err = capsys.readouterr().err
    assert err.startswith("countersign: 403 not-allowed-to-break-glass")
