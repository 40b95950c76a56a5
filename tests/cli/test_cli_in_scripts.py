"""The CLI runs from a shell as the README writes it: `audit verify|export` find the private
Redis of the `countersign serve` running on the same DATA_DIR, and `-q` prints ids alone."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.adapters.store import local_server
from app.cli import main, serve
from tests.adapters.api.v1.live_service import ALICE, BOB, POLICY_DIR, REASON, Service
from tests.support import components
from tests.support.countersign import service_env, start_countersign
from tests.support.ports import LOOPBACK, free_port
from tests.support.procs import ManagedProcess
from tests.support.redis_server import RedisServerFactory

Captured = pytest.CaptureFixture[str]


def audit(*argv: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`countersign audit ...` as a person types it beside the service."""
    return subprocess.run(
        [components.countersign(), "audit", *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.redis
def test_audit_finds_the_private_redis_of_the_running_service(tmp_path: Path) -> None:
    """No COUNTERSIGN_REDIS_URL anywhere: serve records its private server's URL (0600) in
    DATA_DIR while it runs, `audit verify` reads the log there, and once it is stopped as
    `make run` is (Ctrl-C) the record is gone and `audit export` says in one line that there is
    nothing to read."""
    components.redis_server()
    data_dir = tmp_path / "var"
    env = service_env(
        redis_url="",
        policy_dir=POLICY_DIR,
        data_dir=data_dir,
        public_url="http://auth.example.com:8000",
    )
    del env["COUNTERSIGN_REDIS_URL"]
    port = free_port()
    process = ManagedProcess(
        "countersign",
        [components.countersign(), "serve", "--host", LOOPBACK, "--port", str(port)],
        log_path=tmp_path / "countersign.log",
        env=env,
        cwd=tmp_path,
    )
    try:
        process.wait_for_http(port, "/readyz", ready=lambda status: status == 200, timeout=30)
        record = data_dir / local_server.URL_FILE
        assert stat.S_IMODE(record.stat().st_mode) == 0o600
        assert json.loads(record.read_text())["url"].startswith("redis://127.0.0.1:")
        done = audit("verify", env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("audit log intact"), done.stdout
        process.popen.send_signal(signal.SIGINT)
        assert process.popen.wait(timeout=30) == 0
    finally:
        process.stop()
    assert not record.exists()
    done = audit("export", env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "no Redis to read: set COUNTERSIGN_REDIS_URL" in done.stderr


def test_a_record_left_by_a_dead_service_is_never_followed(tmp_path: Path) -> None:
    """A service killed hard leaves its record behind: without the writer holding DATA_DIR,
    and with another process holding it, the URL is refused; with the writer, it is used."""
    local_server.record(tmp_path, "redis://127.0.0.1:6399/0")
    with pytest.raises(local_server.NoLocalServerError, match="no Redis to read"):
        local_server.running_url(tmp_path)
    with serve.hold_data_dir(tmp_path):  # written by this process: the URL is followed
        assert local_server.running_url(tmp_path) == "redis://127.0.0.1:6399/0"
        (tmp_path / local_server.URL_FILE).write_text(
            json.dumps({"url": "redis://127.0.0.1:6399/0", "pid": os.getpid() + 1})
        )
        with pytest.raises(local_server.NoLocalServerError, match="uses a Redis of its own"):
            local_server.running_url(tmp_path)


def test_a_configured_url_wins_over_the_record(tmp_path: Path) -> None:
    """COUNTERSIGN_REDIS_URL (or --redis-url) is read first; the record only stands in."""
    assert local_server.redis_url("redis://10.0.0.1:6379/0", tmp_path) == (
        "redis://10.0.0.1:6379/0"
    )


def test_serve_and_the_reader_agree_on_the_lock(tmp_path: Path) -> None:
    """The reader judges a record by the lock serve holds: the same file."""
    assert serve.LOCK_NAME == local_server.LOCK_NAME


def test_audit_without_a_url_or_a_service_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Captured
) -> None:
    """Exit 2 and one line naming both ways out, not a connection error to nowhere."""
    for name in list(os.environ):
        if name.startswith("COUNTERSIGN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COUNTERSIGN_DATA_DIR", str(tmp_path))
    assert main(["audit", "verify"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "set COUNTERSIGN_REDIS_URL" in err
    assert "make run" in err


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, redis_server_factory: RedisServerFactory
) -> Iterator[Service]:
    """`countersign serve` in dev mode against its own Redis."""
    running = start_countersign(
        tmp_path_factory.mktemp("cli-in-scripts"),
        redis_url=redis_server_factory().url,
        policy_dir=POLICY_DIR,
        public_url="http://auth.example.com:8000",
    )
    try:
        yield Service(running)
    finally:
        running.stop()


def test_requests_create_quiet_prints_only_the_request_id(
    service: Service, capsys: Captured
) -> None:
    """`REQ=$(countersign requests create ... -q)`: one line, the request's id (here the one
    already open, which asking again returns); with a grant in force, the grant's id."""
    request = service.ask(ALICE)
    argv = ["requests", "create", "grafana", "--reason", REASON, "-q", "--api", service.url]
    assert main([*argv, "--token", service.token(ALICE)]) == 0
    assert capsys.readouterr().out == f"{request['id']}\n"
    grant = service.grant(ALICE)
    assert main([*argv, "--token", service.token(ALICE)]) == 0
    assert capsys.readouterr().out == f"{grant['id']}\n"


def test_quiet_listings_print_one_id_a_line(service: Service, capsys: Captured) -> None:
    """`requests list -q` and `grants list --active -q`: ids alone, nothing else."""
    grant = service.grant(ALICE)
    token = service.token(BOB)
    assert main(["grants", "list", "--active", "-q", "--api", service.url, "--token", token]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert grant["id"] in lines
    assert all(line.startswith("grt_") for line in lines)
    request = service.ask(ALICE)
    argv = ["requests", "list", "--status", "pending", "-q", "--api", service.url]
    assert main([*argv, "--token", token]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert request["id"] in lines
    assert all(line.startswith("req_") for line in lines)
