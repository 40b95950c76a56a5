"""`countersign requests list|show|approve|deny` against a running service."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from app.cli.requests import clean
from tests.adapters.api.v1.live_service import (
    ALICE,
    BOB,
    BOB_UNMANAGED,
    MALLORY,
    POLICY_DIR,
    Person,
    Service,
)
from tests.support.countersign import start_countersign
from tests.support.ports import free_port
from tests.support.redis_server import RedisServerFactory

Captured = pytest.CaptureFixture[str]


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, redis_server_factory: RedisServerFactory
) -> Iterator[Service]:
    """`countersign serve` in dev mode against its own Redis."""
    redis = redis_server_factory()
    running = start_countersign(
        tmp_path_factory.mktemp("requests-cli"),
        redis_url=redis.url,
        policy_dir=POLICY_DIR,
        public_url="http://auth.example.com:8000",
    )
    try:
        yield Service(running)
    finally:
        running.stop()


def cli(service: Service, monkeypatch: pytest.MonkeyPatch, who: Person, *argv: str) -> int:
    """Run `countersign requests ...` as `who`, the token coming from COUNTERSIGN_API_TOKEN."""
    monkeypatch.setenv("COUNTERSIGN_API_TOKEN", service.token(who))
    monkeypatch.delenv("COUNTERSIGN_API_URL", raising=False)
    return main(["requests", *argv, "--api", service.url])


def test_list_prints_a_table(
    service: Service, monkeypatch: pytest.MonkeyPatch, capsys: Captured
) -> None:
    """BOB's list shows a header and ALICE's pending Grafana request."""
    request = service.ask(ALICE)
    assert cli(service, monkeypatch, BOB, "list", "--status", "pending") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "ID",
        "STATUS",
        "APPLICATION",
        "REQUESTER",
        "CREATED",
        "JUSTIFICATION",
    ]
    assert request["id"] in out
    assert "alice@example.com" in out


def test_list_json_is_the_api_page(
    service: Service, monkeypatch: pytest.MonkeyPatch, capsys: Captured
) -> None:
    """`--json` prints the page as the API sent it."""
    request = service.ask(ALICE)
    assert cli(service, monkeypatch, ALICE, "list", "--mine", "--json") == 0
    page = json.loads(capsys.readouterr().out)
    assert request["id"] in [r["id"] for r in page["items"]]
    assert "next_cursor" in page


def test_show_prints_the_request(
    service: Service, monkeypatch: pytest.MonkeyPatch, capsys: Captured
) -> None:
    """Labelled lines: id, status, requester and justification."""
    request = service.ask(ALICE)
    assert cli(service, monkeypatch, ALICE, "show", request["id"]) == 0
    out = capsys.readouterr().out
    assert f"id            {request['id']}" in out
    assert "requester     alice@example.com" in out
    assert "justification INC-4242" in out


def test_approve_prints_the_review(
    service: Service, monkeypatch: pytest.MonkeyPatch, capsys: Captured
) -> None:
    """BOB approves for 45 minutes (ISO 8601) and sees himself in the reviews."""
    request = service.ask(ALICE)
    code = cli(
        service,
        monkeypatch,
        BOB,
        "approve",
        request["id"],
        "--duration",
        "PT45M",
        "--comment",
        "ok",
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "status        approved" in out
    assert "bob@example.com" in out
    assert "45m" in out


def test_deny_prints_the_denied_request(
    service: Service, monkeypatch: pytest.MonkeyPatch, capsys: Captured
) -> None:
    """A deny with its comment."""
    request = service.ask(ALICE)
    assert cli(service, monkeypatch, BOB, "deny", request["id"], "--comment", "not now") == 0
    assert "status        denied" in capsys.readouterr().out


def test_a_refusal_is_one_line_and_exit_1(
    service: Service, monkeypatch: pytest.MonkeyPatch, capsys: Captured
) -> None:
    """BOB approving his own request: one line with status and code, no traceback."""
    request = service.ask(BOB_UNMANAGED)
    assert cli(service, monkeypatch, BOB_UNMANAGED, "approve", request["id"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("countersign: 403 self-approval:")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_someone_elses_request_is_not_found(
    service: Service, monkeypatch: pytest.MonkeyPatch, capsys: Captured
) -> None:
    """MALLORY asking for ALICE's request: 404, exit 1."""
    request = service.ask(ALICE)
    assert cli(service, monkeypatch, MALLORY, "show", request["id"]) == 1
    assert "404 not-found" in capsys.readouterr().err


def test_a_bad_duration_is_refused_by_the_api(
    service: Service, monkeypatch: pytest.MonkeyPatch, capsys: Captured
) -> None:
    """`--duration soon` comes back as 422 duration-invalid."""
    request = service.ask(ALICE)
    assert cli(service, monkeypatch, BOB, "approve", request["id"], "--duration", "soon") == 1
    assert "422 duration-invalid" in capsys.readouterr().err


def test_an_unreachable_api_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: Captured) -> None:
    """Nothing listening: exit 1 with `unreachable`, and the token is not printed."""
    monkeypatch.setenv("COUNTERSIGN_API_TOKEN", "cst_keep-this-secret")
    code = main(["requests", "list", "--api", f"http://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert code == 1
    assert "unreachable" in err
    assert "keep-this-secret" not in err


def test_without_a_token_it_says_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch, capsys: Captured
) -> None:
    """No --token and no COUNTERSIGN_API_TOKEN: exit 2 naming the variable."""
    monkeypatch.delenv("COUNTERSIGN_API_TOKEN", raising=False)
    monkeypatch.delenv("COUNTERSIGN_API_TOKEN_FILE", raising=False)
    assert main(["requests", "list"]) == 2
    assert "COUNTERSIGN_API_TOKEN" in capsys.readouterr().err


def test_the_token_can_come_from_a_file(
    service: Service, monkeypatch: pytest.MonkeyPatch, capsys: Captured, tmp_path: Path
) -> None:
    """COUNTERSIGN_API_TOKEN_FILE is read like any other secret file."""
    secret = tmp_path / "token"
    secret.write_text(service.token(BOB) + "\n")
    monkeypatch.delenv("COUNTERSIGN_API_TOKEN", raising=False)
    monkeypatch.setenv("COUNTERSIGN_API_TOKEN_FILE", str(secret))
    monkeypatch.setenv("COUNTERSIGN_API_URL", service.url)
    assert main(["requests", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["items"] is not None


def test_cells_never_carry_terminal_controls() -> None:
    """Other people's text is shown flat: no escape sequences, newlines or tabs."""
    assert clean("evil\x1b[2J\nname\tx") == "evil [2J name x"


def test_create_then_cancel_from_the_command_line(
    service: Service, monkeypatch: pytest.MonkeyPatch, capsys: Captured
) -> None:
    """ALICE asks with a reason and a duration, sees the pending request, then withdraws it."""
    open_one = service.ask(ALICE)
    service.call("POST", f"/api/v1/access-requests/{open_one['id']}/cancel", ALICE)
    capsys.readouterr()
    code = cli(
        service, monkeypatch, ALICE, "create", "grafana", "--reason", "INC-77 dashboards",
        "--duration", "2h",
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "status        pending" in out
    assert "justification INC-77 dashboards" in out
    assert "duration      2h" in out
    request_id = next(line.split()[1] for line in out.splitlines() if line.startswith("id "))
    assert request_id != open_one["id"]

    assert cli(service, monkeypatch, ALICE, "cancel", request_id) == 0
    assert "status        cancelled" in capsys.readouterr().out


def test_asking_again_says_the_request_is_already_open(
    service: Service, monkeypatch: pytest.MonkeyPatch, capsys: Captured
) -> None:
    """A second `create` answers with the open request, and says so."""
    open_one = service.ask(ALICE)
    capsys.readouterr()
    assert cli(service, monkeypatch, ALICE, "create", "grafana", "--reason", "again") == 0
    out = capsys.readouterr().out
    assert out.startswith("you already have an open request for this application:")
    assert f"id            {open_one['id']}" in out


def test_version_is_the_installed_release(capsys: Captured) -> None:
    """`countersign --version` prints the release pyproject.toml declares."""
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    declared = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert capsys.readouterr().out == f"countersign {declared['project']['version']}\n"
