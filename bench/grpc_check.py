"""`make bench` (gRPC part): Envoy's gRPC Check against the HTTP `/auth/envoy` check, both asked
of the same Countersign process (one uvicorn worker, uvloop; its gRPC listener beside it).

HTTP rows come from wrk, as in bench/forward_auth.py. The gRPC rows come from a small grpc.aio
client here: one HTTP/2 connection (as one Envoy worker keeps), N calls in flight, for a fixed
time, each sending the serialised CheckRequest Envoy would send. That client is Python and
shares the two cores with the server, so its req/s is a floor; the server's CPU time per check
(CPU µs) is the figure to compare. The last rows ask through the real Envoy (one worker) with
each shipped configuration, wrk in front and a static nginx backend behind: the whole request.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import uvloop

from bench.forward_auth import (
    CONNECTIONS,
    DURATION,
    Result,
    _mint_managed,
    cpu_seconds,
    static_backend,
    wrk,
)
from tests.adapters.forward_auth.grpc_support import CHECK_PATH, envoy_request
from tests.support.envoy_grpc import start_countersign_with_grpc, start_envoy_grpc
from tests.support.ports import free_port
from tests.support.proxies import Ports, start_proxy
from tests.support.redis_server import start_redis_server

ROOT = Path(__file__).resolve().parents[1]
#: Calls in flight on the one connection (wrk's connection count by default).
STREAMS = int(os.environ.get("BENCH_GRPC_STREAMS", CONNECTIONS))
SECONDS = float(DURATION.removesuffix("s"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
GRAFANA = "https://grafana.example.com/d/1"


@dataclass(frozen=True)
class Load:
    """What the gRPC client saw in one run."""

    calls: int
    seconds: float
    latencies: list[float]
    unexpected: int


async def _drive(target: str, request: bytes, *, streams: int, seconds: float) -> Load:
    """`streams` calls in flight on one channel for `seconds`; every answer is compared with
    the first (the same allow each time), and any other counts as unexpected."""
    async with grpc.aio.insecure_channel(target) as channel:
        check = channel.unary_unary(CHECK_PATH)
        expected = await check(request)
        latencies: list[float] = []
        unexpected = 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + seconds

        async def stream() -> None:
            nonlocal unexpected
            while loop.time() < deadline:
                before = time.perf_counter()
                answer = await check(request)
                latencies.append(time.perf_counter() - before)
                if answer != expected:
                    unexpected += 1

        await asyncio.gather(*(stream() for _ in range(streams)))
        return Load(len(latencies), loop.time() - started, latencies, unexpected)


def grpc_load(name: str, target: str, request: bytes, *, server: int, streams: int) -> Result:
    """A warm-up second, then the measured run; the server's CPU time per check."""
    uvloop.run(_drive(target, request, streams=streams, seconds=1.0))
    before = cpu_seconds(server)
    load = uvloop.run(_drive(target, request, streams=streams, seconds=SECONDS))
    spent = cpu_seconds(server) - before
    if load.unexpected:
        sys.exit(f"{name}: {load.unexpected} checks were not answered as the first one")
    ordered = sorted(load.latencies)
    return Result(
        name,
        load.calls / load.seconds,
        ordered[len(ordered) // 2] * 1000,
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        spent / load.calls * 1e6,
    )


def main() -> int:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    base = Path(tempfile.mkdtemp(prefix="countersign-bench-grpc-"))
    stops = []
    try:
        redis_server = start_redis_server(base / "redis")
        stops.append(redis_server.process.stop)
        grpc_port = free_port()
        service = start_countersign_with_grpc(
            base / "countersign",
            grpc_port=grpc_port,
            redis_url=redis_server.url,
            policy_dir=ROOT / "policy_rules",
            public_url="http://auth.example.com",
        )
        stops.append(service.process.stop)
        static, static_port = static_backend(base)
        stops.append(static.stop)
        envoy_http = start_proxy(
            "envoy", Ports(service.port, static_port, free_port()), base / "envoy"
        )
        stops.append(envoy_http.stop)
        envoy_grpc = start_envoy_grpc(
            base / "envoy-grpc",
            countersign_port=service.port,
            grpc_port=grpc_port,
            backend_port=static_port,
            port=free_port(),
        )
        stops.append(envoy_grpc.stop)
        rig = Rig(
            service=service.base_url,
            grpc=f"127.0.0.1:{grpc_port}",
            pid=service.process.pid,
            token=_mint_managed(service.env, service.data_dir),
            envoy_http=envoy_http.base_url,
            envoy_grpc=envoy_grpc.base_url,
        )
        rounds = [_round(rig) for _ in range(ROUNDS)]
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(base, ignore_errors=True)
    for number, results in enumerate(rounds, 1):
        _print(results, number)
    return 0


@dataclass(frozen=True)
class Rig:
    """Where each case asks, and the pid whose CPU time is measured."""

    service: str
    grpc: str
    pid: int
    token: str
    envoy_http: str
    envoy_grpc: str


def _round(rig: Rig) -> list[Result]:
    """The same allow (Bob, cached JWT) over each transport, then through each Envoy."""
    allow = {"authorization": f"Bearer {rig.token}", "accept": "application/json"}
    http = {"Host": "grafana.example.com", "X-Forwarded-Proto": "https", **allow}
    through = {"Host": "grafana.example.com", "Authorization": f"Bearer {rig.token}"}
    check = envoy_request(GRAFANA, headers=allow, raw=True).SerializeToString()
    pid = rig.pid
    return [
        wrk(
            "HTTP /auth/envoy allow, cached JWT", f"{rig.service}/auth/envoy/d/1", http, server=pid
        ),
        grpc_load("gRPC Check allow, cached JWT", rig.grpc, check, server=pid, streams=STREAMS),
        grpc_load("gRPC Check allow, 1 call in flight", rig.grpc, check, server=pid, streams=1),
        wrk("Envoy (HTTP ext_authz) -> backend", f"{rig.envoy_http}/d/1", through, server=pid),
        wrk("Envoy (gRPC ext_authz) -> backend", f"{rig.envoy_grpc}/d/1", through, server=pid),
    ]


def _print(results: list[Result], number: int) -> None:
    print(
        f"\ngRPC vs HTTP round {number}/{ROUNDS}: one uvicorn worker (uvloop) serving both; HTTP "
        f"wrk -t1 -c{CONNECTIONS} -d{DURATION}; gRPC one connection, {STREAMS} calls in flight "
        f"(Python client: a floor), {DURATION}; CPU µs = the server's utime+stime per check"
    )
    print(f"{'case':44s} {'req/s':>9s} {'p50 ms':>7s} {'p99 ms':>7s} {'CPU µs':>7s}")
    for r in results:
        print(f"{r.name:44s} {r.rps:9.0f} {r.p50_ms:7.2f} {r.p99_ms:7.2f} {r.cpu_us:7.1f}")


if __name__ == "__main__":
    sys.exit(main())
