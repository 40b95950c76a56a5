"""End-to-end fixtures: one Countersign, Redis and backend per session, and each shipped proxy
configuration started once (on first use) in front of them.

Personas and their tokens: tests/support/personas.py. `redis_server_factory` comes from
tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.backend import Backend
from tests.support.countersign import (
    ManagedDevice,
    RunningCountersign,
    write_device_inventory,
)
from tests.support.envoy_grpc import ENVOY_GRPC, GrpcProxyPool, start_countersign_with_grpc
from tests.support.gate import Gate
from tests.support.personas import Tokens, mint_tokens
from tests.support.ports import free_port, free_ports
from tests.support.proxies import PROXIES, PUBLIC_HOST, ProxyPool
from tests.support.redis_server import RedisServerFactory

POLICY_DIR = Path(__file__).parent / "policies"
#: The trusted country header the service reads (Cloudflare's name).
COUNTRY_HEADER = "CF-IPCountry"


@pytest.fixture(scope="session")
def e2e_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where every process of the session keeps its files and logs."""
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def backend() -> Iterator[Backend]:
    """The protected application, echoing what it receives."""
    with Backend() as running:
        yield running


@pytest.fixture(scope="session")
def proxy_ports() -> dict[str, int]:
    """A listening port per proxy, chosen before Countersign starts (its public URL names one)."""
    return dict(zip(PROXIES, free_ports(len(PROXIES)), strict=True))


@pytest.fixture(scope="session")
def grpc_ports() -> dict[str, int]:
    """The gRPC check port of each Countersign of the session (envoy-grpc asks there)."""
    return dict(zip(("countersign", "without-redis"), free_ports(2), strict=True))


@pytest.fixture(scope="session")
def managed_device(e2e_root: Path) -> ManagedDevice:
    """A client certificate the service's device inventory lists as managed."""
    return write_device_inventory(e2e_root / "devices")


@pytest.fixture(scope="session")
def countersign(
    e2e_root: Path,
    redis_server_factory: RedisServerFactory,
    proxy_ports: dict[str, int],
    managed_device: ManagedDevice,
    grpc_ports: dict[str, int],
) -> Iterator[RunningCountersign]:
    """The real service, in dev mode, with this suite's policies, a device inventory and a
    trusted country header: the proxies (on loopback, a trusted address) must never let a
    client choose those signals."""
    redis = redis_server_factory()
    running = start_countersign_with_grpc(
        e2e_root / "countersign",
        grpc_port=grpc_ports["countersign"],
        redis_url=redis.url,
        policy_dir=POLICY_DIR,
        public_url=f"http://{PUBLIC_HOST}:{proxy_ports['nginx']}",
        extra_env={
            "COUNTERSIGN_DEVICE_INVENTORY": str(managed_device.inventory),
            "COUNTERSIGN_COUNTRY_HEADER": COUNTRY_HEADER,
        },
    )
    yield running
    running.stop()


@pytest.fixture(scope="session")
def countersign_without_redis(
    e2e_root: Path, countersign: RunningCountersign, grpc_ports: dict[str, int]
) -> Iterator[RunningCountersign]:
    """A second instance whose Redis URL points where nothing listens."""
    running = start_countersign_with_grpc(
        e2e_root / "countersign-without-redis",
        grpc_port=grpc_ports["without-redis"],
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        policy_dir=POLICY_DIR,
        public_url=countersign.public_url,
    )
    yield running
    running.stop()


@pytest.fixture(scope="session")
def no_redis_tokens(countersign_without_redis: RunningCountersign) -> Tokens:
    """The personas' tokens for the instance without Redis (each instance has its own key)."""
    return mint_tokens(countersign_without_redis)


@pytest.fixture(scope="session")
def tokens(countersign: RunningCountersign) -> Tokens:
    """One dev token per persona."""
    return mint_tokens(countersign)


@pytest.fixture(scope="session")
def proxy_pool(
    e2e_root: Path,
    countersign: RunningCountersign,
    backend: Backend,
    proxy_ports: dict[str, int],
    grpc_ports: dict[str, int],
) -> Iterator[ProxyPool]:
    """The shipped configurations in front of Countersign and the backend."""
    pool = GrpcProxyPool(
        e2e_root / "proxies",
        countersign_port=countersign.port,
        grpc_port=grpc_ports["countersign"],
        backend_port=backend.port,
    )
    pool.reserve(proxy_ports)
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session")
def down_proxy_pool(e2e_root: Path, backend: Backend) -> Iterator[ProxyPool]:
    """The same configurations pointed at a port where no Countersign answers."""
    pool = GrpcProxyPool(
        e2e_root / "proxies-down",
        countersign_port=free_port(),
        grpc_port=free_port(),
        backend_port=backend.port,
    )
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session")
def no_redis_proxy_pool(
    e2e_root: Path,
    countersign_without_redis: RunningCountersign,
    backend: Backend,
    grpc_ports: dict[str, int],
) -> Iterator[ProxyPool]:
    """The same configurations in front of the Countersign that has lost its Redis."""
    pool = GrpcProxyPool(
        e2e_root / "proxies-no-redis",
        countersign_port=countersign_without_redis.port,
        grpc_port=grpc_ports["without-redis"],
        backend_port=backend.port,
    )
    yield pool
    pool.stop_all()


@pytest.fixture(params=(*PROXIES, ENVOY_GRPC))
def proxy_name(request: pytest.FixtureRequest) -> str:
    """Each test runs once per proxy (and once for Envoy over gRPC, see below)."""
    name: str = request.param
    return name


#: The fixtures whose pools also start envoy-grpc (they know the session's gRPC ports).
GRPC_GATES = frozenset({"gate", "down_gate", "no_redis_gate"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """envoy-grpc runs through this session's gates only: a module with a pool of its own
    (an HTTP ProxyPool in front of its own Countersign) runs the HTTP proxies."""
    elsewhere = [
        item
        for item in items
        if isinstance(item, pytest.Function)
        and hasattr(item, "callspec")
        and item.callspec.params.get("proxy_name") == ENVOY_GRPC
        and not GRPC_GATES.intersection(item.fixturenames)
    ]
    if elsewhere:
        config.hook.pytest_deselected(items=elsewhere)
        items[:] = [item for item in items if item not in elsewhere]


@pytest.fixture
def gate(proxy_name: str, proxy_pool: ProxyPool, backend: Backend) -> Iterator[Gate]:
    """A client for the proxy under test."""
    client = Gate(proxy_pool.get(proxy_name), backend)
    yield client
    client.close()


@pytest.fixture
def down_gate(proxy_name: str, down_proxy_pool: ProxyPool, backend: Backend) -> Iterator[Gate]:
    """A client for the proxy under test, whose Countersign is down."""
    client = Gate(down_proxy_pool.get(proxy_name), backend)
    yield client
    client.close()


@pytest.fixture
def no_redis_gate(
    proxy_name: str, no_redis_proxy_pool: ProxyPool, backend: Backend
) -> Iterator[Gate]:
    """A client for the proxy under test, whose Countersign cannot reach Redis."""
    client = Gate(no_redis_proxy_pool.get(proxy_name), backend)
    yield client
    client.close()
