"""`countersign serve` takes its data directory and its address before it writes, starts or
announces anything: a second instance, or a busy port, stops with one line and leaves the
running instance alone."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import components
from tests.support.countersign import RunningCountersign, service_env, start_countersign
from tests.support.ports import LOOPBACK, free_port
from tests.support.redis_server import RedisServerFactory

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy_rules"


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, redis_server_factory: RedisServerFactory
) -> Iterator[RunningCountersign]:
    """One instance, in dev mode, owning its data directory and port."""
    service = start_countersign(
        tmp_path_factory.mktemp("serve-start"),
        redis_url=redis_server_factory().url,
        policy_dir=POLICY_DIR,
        public_url="http://auth.example.com:8000",
    )
    yield service
    service.stop()


def serve(env: dict[str, str], port: int, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a second `countersign serve` to its end (it must stop by itself)."""
    argv = [components.countersign(), "serve", "--host", LOOPBACK, "--port", str(port)]
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_second_instance_on_the_same_data_dir_stops_and_harms_nothing(
    running: RunningCountersign, tmp_path: Path
) -> None:
    """Same DATA_DIR, another port: exit 1 naming the holder; the dev key is not rewritten
    and the running instance still answers."""
    key = running.data_dir / "dev" / "issuer-key.pem"
    before = key.read_bytes()
    done = serve(dict(running.env), free_port(), tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"another Countersign (pid {running.process.pid}) is running" in done.stderr
    assert done.stderr.count("\n") == 1
    assert "service_started" not in done.stdout
    assert key.read_bytes() == before
    assert httpx.get(f"http://{LOOPBACK}:{running.port}/readyz").status_code == 200


def test_a_busy_port_stops_before_anything_starts(tmp_path: Path) -> None:
    """The port is taken: one line, exit 1, no embedded Redis started, no dev key written,
    and nothing announced as started."""
    data_dir = tmp_path / "data"
    env = service_env(
        redis_url="redis://127.0.0.1:1/0",
        policy_dir=POLICY_DIR,
        data_dir=data_dir,
        public_url="http://auth.example.com:8000",
    )
    del env["COUNTERSIGN_REDIS_URL"]  # would start an embedded server, were it to get that far
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        done = serve(env, taken.getsockname()[1], tmp_path)
    assert done.returncode == 1
    assert "cannot listen on" in done.stderr
    assert "Address already in use" in done.stderr
    assert "service_started" not in done.stdout
    assert not (data_dir / "redis").exists()
    assert not (data_dir / "dev").exists()
