"""What is particular to Envoy over gRPC (deploy/envoy/envoy-grpc.yaml), through the real Envoy
and `countersign serve --grpc-port`. The behaviour every proxy shares (allow, deny, sign-in,
forged headers, Countersign or Redis down) runs for envoy-grpc in the parametrized suites."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import components
from tests.support.backend import Backend
from tests.support.countersign import RunningCountersign, service_env
from tests.support.envoy_grpc import ENVOY_GRPC, GrpcProxyPool
from tests.support.gate import Gate
from tests.support.personas import Tokens
from tests.support.ports import LOOPBACK, free_port
from tests.support.proxies import PUBLIC_HOST
from tests.support.redis_server import RedisServerFactory

pytestmark = pytest.mark.e2e

POLICY_DIR = Path(__file__).parent / "policies"
START_TIMEOUT = 60


@pytest.fixture
def grpc_gate(proxy_pool: GrpcProxyPool, backend: Backend) -> Iterator[Gate]:
    """A client of the gRPC Envoy in front of the session's Countersign."""
    client = Gate(proxy_pool.get(ENVOY_GRPC), backend)
    yield client
    client.close()


@pytest.fixture(scope="module")
def pages_only_gate(
    e2e_root: Path, countersign: RunningCountersign, backend: Backend
) -> Iterator[Gate]:
    """The gRPC Envoy in front of a Countersign whose pages answer but whose gRPC port does
    not (nothing listens there)."""
    pool = GrpcProxyPool(
        e2e_root / "proxies-grpc-down",
        countersign_port=countersign.port,
        grpc_port=free_port(),
        backend_port=backend.port,
    )
    client = Gate(pool.get(ENVOY_GRPC), backend)
    yield client
    client.close()
    pool.stop_all()


def test_a_denied_browser_gets_the_refusal_page_through_grpc(
    grpc_gate: Gate, tokens: Tokens
) -> None:
    """The denied response's body is Countersign's page, as HTML, with its own CSP."""
    sent = grpc_gate.get("admin.example.com", "/", token=tokens.alice, browser=True)
    assert sent.status == 403
    assert sent.response.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in sent.response.headers
    assert "<h1>" in sent.response.text
    assert sent.arrived == ()


def test_an_api_client_asked_to_request_access_learns_where(
    grpc_gate: Gate, tokens: Tokens, countersign: RunningCountersign
) -> None:
    """The 403 for an API client carries the request page's URL in its header and body."""
    sent = grpc_gate.get("approval.example.com", "/api/reports", token=tokens.alice)
    assert sent.status == 403
    url = sent.response.headers["x-countersign-request-url"]
    assert url.startswith(f"{countersign.public_url}/request?app=approval")
    assert sent.response.json()["request_url"] == url


def test_the_grpc_listener_down_is_a_403_while_the_pages_still_work(
    pages_only_gate: Gate, tokens: Tokens
) -> None:
    """Countersign's gRPC port dead: Envoy denies (403), never the application; the sign-in
    pages, served over HTTP, still load."""
    sent = pages_only_gate.get("open.example.com", "/dashboard", token=tokens.alice)
    assert sent.status == 403
    assert sent.arrived == ()
    assert pages_only_gate.get(PUBLIC_HOST, "/dev/login").status == 200


def test_a_taken_grpc_port_stops_the_service_with_one_line(
    tmp_path: Path, redis_server_factory: RedisServerFactory
) -> None:
    """`countersign serve --grpc-port` on a port something else holds exits non-zero, saying
    which port, instead of serving HTTP without the gRPC check."""
    env = service_env(
        redis_url=redis_server_factory().url,
        policy_dir=POLICY_DIR,
        data_dir=tmp_path / "data",
        public_url=f"http://{PUBLIC_HOST}",
    )
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [components.countersign(), "serve", "--host", LOOPBACK, "--port", str(free_port())]
        result = subprocess.run(
            [*argv, "--grpc-port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
        )
    assert result.returncode == 1
    assert f"countersign: cannot listen on {LOOPBACK}:{port} for gRPC" in result.stderr
