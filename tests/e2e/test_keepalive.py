"""Keep-alive between the proxies and Countersign: whoever closes an idle connection, no 502s.

A proxy that reuses an idle upstream connection at the instant Countersign closes it gets a
reset instead of an answer: a 502 (nginx, Traefik, Caddy), or a 503 on the pages and a 403 for
the check (Envoy). The shipped configurations close idle connections to Countersign before
Countersign does (proxy 60s < COUNTERSIGN_KEEPALIVE_TIMEOUT 100s); here the same relation is
scaled down (proxy 0.4 s < service 1 s) and compared with the reverse (proxy 3 s > service 1 s).

Idle-then-burst: a burst warms the proxy's pool, everything stays idle until Countersign's
keep-alive has run out, then a second burst. Countersign is paused (SIGSTOP) from the end of
the warm-up until the second burst has reached its sockets, so its keep-alive timers fire just
before it reads the burst, as when a request lands at the instant a connection expires. That
instant is otherwise a few microseconds wide, and a test would only hit it by luck.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.backend import Backend
from tests.support.countersign import RunningCountersign, start_countersign
from tests.support.proxies import PUBLIC_HOST, ProxyPool, RunningProxy
from tests.support.redis_server import RedisServerFactory

pytestmark = pytest.mark.e2e

POLICY_DIR = Path(__file__).parent / "policies"
#: COUNTERSIGN_KEEPALIVE_TIMEOUT in test scale (uvicorn counts whole seconds).
SERVICE_KEEPALIVE = 1.0
#: The shipped relation: the proxy drops idle connections first.
SHIPPED_PROXY_IDLE = 0.4
#: The relation the shipped configurations prevent (nginx's default 60s, Envoy's hour, with
#: uvicorn's own 5s): the proxy keeps idle connections after Countersign has closed them.
RACING_PROXY_IDLE = 3.0
BURST = 16
ROUNDS = 3
#: What Countersign answers each request of a burst; anything else came from the proxy.
#: GET open.example.com/healthz is a bypassed path (the check allows it, the backend answers);
#: POST to a static path on the public host is answered 405 by Countersign's pages.
EXPECTED = {"check": 200, "page": 405}
#: Proxies in which the reverse relation fails requests in every round. nginx, Traefik and
#: Caddy send a failed check (a GET) again on a new connection, so there only the POSTs to the
#: pages fail; Envoy fails both. Traefik's pool let only a few POSTs meet a closed connection,
#: and not in every round, so a round without errors would prove nothing about it.
REPRODUCING = ("nginx", "envoy", "caddy")
ALL_PROXIES = ("nginx", "envoy", "traefik", "caddy")
WAIT_TIMEOUT = 10.0
#: /proc/net/tcp state of an established connection.
_ESTABLISHED = "01"


@pytest.fixture(scope="module")
def keepalive_countersign(
    e2e_root: Path, redis_server_factory: RedisServerFactory
) -> Iterator[RunningCountersign]:
    """Countersign started by `countersign serve` with a one-second keep-alive."""
    running = start_countersign(
        e2e_root / "countersign-keepalive",
        redis_url=redis_server_factory().url,
        policy_dir=POLICY_DIR,
        public_url=f"http://{PUBLIC_HOST}",
        extra_env={"COUNTERSIGN_KEEPALIVE_TIMEOUT": f"{SERVICE_KEEPALIVE:g}s"},
    )
    yield running
    _resume(running)
    running.stop()


def _pool(
    root: Path, countersign: RunningCountersign, backend: Backend, *, idle: float
) -> Iterator[ProxyPool]:
    pool = ProxyPool(
        root, countersign_port=countersign.port, backend_port=backend.port, upstream_idle=idle
    )
    yield pool
    pool.stop_all()


@pytest.fixture(scope="module")
def shipped_pool(
    e2e_root: Path, keepalive_countersign: RunningCountersign, backend: Backend
) -> Iterator[ProxyPool]:
    """The shipped configurations, idle timeout to Countersign below its keep-alive."""
    yield from _pool(
        e2e_root / "proxies-shipped-idle", keepalive_countersign, backend, idle=SHIPPED_PROXY_IDLE
    )


@pytest.fixture(scope="module")
def racing_pool(
    e2e_root: Path, keepalive_countersign: RunningCountersign, backend: Backend
) -> Iterator[ProxyPool]:
    """The shipped configurations, idle timeout to Countersign above its keep-alive."""
    yield from _pool(
        e2e_root / "proxies-racing-idle", keepalive_countersign, backend, idle=RACING_PROXY_IDLE
    )


@pytest.mark.parametrize("proxy_name", REPRODUCING)
def test_proxy_outlasting_the_service_keepalive_fails_requests(
    proxy_name: str, racing_pool: ProxyPool, keepalive_countersign: RunningCountersign
) -> None:
    """A proxy keeping idle connections longer than Countersign errors after an idle spell.

    The counterpart of the shipped relation, showing the pattern finds the race at all (and
    that COUNTERSIGN_KEEPALIVE_TIMEOUT reaches uvicorn: at its old 5 s nothing closes here).
    """
    failures: Counter[tuple[str, int]] = Counter()
    for _ in range(ROUNDS):
        failures += _idle_then_burst(racing_pool.get(proxy_name), keepalive_countersign)
        if failures:
            break
    assert failures, f"{proxy_name}: no request met a connection Countersign had closed"


@pytest.mark.parametrize("proxy_name", ALL_PROXIES)
def test_shipped_relation_has_no_proxy_errors(
    proxy_name: str, shipped_pool: ProxyPool, keepalive_countersign: RunningCountersign
) -> None:
    """With the proxy closing idle connections first, every burst gets Countersign's answers."""
    failures: Counter[tuple[str, int]] = Counter()
    for _ in range(ROUNDS):
        failures += _idle_then_burst(shipped_pool.get(proxy_name), keepalive_countersign)
    assert not failures, f"{proxy_name}: proxy errors {dict(failures)}"


def _idle_then_burst(
    proxy: RunningProxy, countersign: RunningCountersign
) -> Counter[tuple[str, int]]:
    """One round: warm the pool, idle past Countersign's keep-alive, burst; unexpected answers."""
    limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=BURST)
    with (
        httpx.Client(base_url=proxy.base_url, limits=limits, timeout=WAIT_TIMEOUT) as client,
        ThreadPoolExecutor(max_workers=BURST) as workers,
    ):
        senders = [_check, _page] * (BURST // 2)
        warm = [workers.submit(send, client) for send in senders]
        _failures(warm)
        warmed = time.monotonic()
        with _paused(countersign):
            # The one pause that cannot be a condition: the behaviour is the idle time itself.
            # Countersign is stopped, so nothing observable changes until its timers are due.
            _sleep_until(warmed + SERVICE_KEEPALIVE + 0.1)
            burst = [workers.submit(send, client) for send in senders]
            _wait_until(
                lambda: _requests_waiting(countersign.port) >= BURST,
                what=f"{BURST} requests waiting at Countersign's sockets",
            )
        return _failures(burst)


def _check(client: httpx.Client) -> tuple[str, int]:
    response = client.get("/healthz", headers={"Host": "open.example.com"})
    return "check", response.status_code


def _page(client: httpx.Client) -> tuple[str, int]:
    response = client.post("/static/keepalive", headers={"Host": PUBLIC_HOST}, content=b"x=1")
    return "page", response.status_code


def _failures(futures: list[Future[tuple[str, int]]]) -> Counter[tuple[str, int]]:
    answers = [future.result() for future in futures]
    return Counter(answer for answer in answers if EXPECTED[answer[0]] != answer[1])


@contextmanager
def _paused(countersign: RunningCountersign) -> Iterator[None]:
    """Stop Countersign's process group; continue it on the way out, whatever happened."""
    os.killpg(countersign.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        _resume(countersign)


def _resume(countersign: RunningCountersign) -> None:
    if countersign.process.alive():
        os.killpg(countersign.process.pid, signal.SIGCONT)


def _requests_waiting(port: int) -> int:
    """Established connections to 127.0.0.1:`port` holding bytes their server has not read."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        pytest.skip("needs Linux /proc/net/tcp to see requests waiting at a paused server")
    waiting = 0
    for line in lines:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        unread = int(fields[4].split(":")[1], 16)
        if local_port == port and fields[3] == _ESTABLISHED and unread > 0:
            waiting += 1
    return waiting


def _sleep_until(deadline: float) -> None:
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(left)


def _wait_until(condition: Callable[[], bool], *, what: str) -> None:
    deadline = time.monotonic() + WAIT_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
