"""`make bench`: req/s and latency of the forward-auth path on this machine, with wrk.

Starts a private Redis, Countersign (one uvicorn worker, uvloop + httptools), the ceilings
(a raw ASGI app and a FastAPI null route on the same settings), a static nginx backend and
nginx with deploy/nginx/countersign.conf, then prints one table:

  (a) the ceilings; (b) /auth/nginx allow with a cached JWT (a device policy: decided every
  time); (c) /auth/nginx allow through an approval grant (identity-only: answered from the
  decision memo after the first check); (d) nginx → Countersign → static backend vs nginx →
  the static backend directly, and (one connection) vs the same nginx asking the raw ASGI app
  (the floor of an auth_request hop); then the decision memo's hits and misses over the run.

BENCH_SERVER=granian serves Countersign's app with granian (a bench-only dev dependency)
instead of uvicorn; BENCH_WORKERS=N runs N worker processes (CPU µs then counts them all).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from app.adapters.sessions.contract import SignIn
from app.adapters.sessions.keys import DEV_KEY_PATH, SessionKeys, SigningKey
from app.adapters.sessions.tokens import new_session_id, session_claims
from app.adapters.store.keys import grant_key
from app.core.approvals import Person, Scope
from app.core.policy.compile import compile_policy_set
from app.services.policy_files import load_sources
from tests.support import components
from tests.support.countersign import start_countersign
from tests.support.ports import free_port
from tests.support.procs import ManagedProcess
from tests.support.proxies import Ports, start_proxy
from tests.support.redis_server import start_redis_server

ROOT = Path(__file__).resolve().parents[1]
DURATION = os.environ.get("BENCH_DURATION", "5s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "50")


ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
#: What serves Countersign in (b)-(e): `uvicorn` (as `countersign serve` does) or `granian`
#: (the same ASGI app, for comparison), with BENCH_WORKERS worker processes.
SERVER = os.environ.get("BENCH_SERVER", "uvicorn")
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    #: CPU time of the measured server process (and its workers) per request, in µs.
    cpu_us: float = float("nan")


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and every process below it (uvicorn's workers), in seconds."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        this = int(entry.name)
        children.setdefault(int(fields[1]), []).append(this)
        ticks[this] = int(fields[11]) + int(fields[12])
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += ticks.get(current, 0)
        todo += children.get(current, [])
    return total / _TICK


def wrk(
    name: str,
    url: str,
    headers: dict[str, str],
    *,
    connections: str = CONNECTIONS,
    server: int | None = None,
) -> Result:
    """One wrk run (1 thread, 50 connections by default) after a warm-up run; with `server`
    (a pid), also that process's CPU time per request over the measured run."""
    args = ["wrk", "-t1", f"-c{connections}", "--latency"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    subprocess.run([*args, "-d1s", url], capture_output=True, check=True)
    before = cpu_seconds(server) if server is not None else 0.0
    out = subprocess.run([*args, f"-d{DURATION}", url], capture_output=True, text=True, check=True)
    spent = cpu_seconds(server) - before if server is not None else float("nan")
    text = out.stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non2xx:
        sys.exit(f"{name}: {non2xx.group(1)} requests were not answered 2xx:\n{text}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    total = re.search(r"(\d+) requests in", text)
    count = int(total.group(1)) if total else 0
    cpu_us = spent / count * 1e6 if count else float("nan")
    return Result(name, rps, _latency(text, "50%"), _latency(text, "99%"), cpu_us)


def _latency(text: str, label: str) -> float:
    match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", text)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def uvicorn(target: str, directory: Path, *, factory: bool = False) -> tuple[ManagedProcess, int]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--no-proxy-headers",
        "--log-level",
        "warning",
        "--no-server-header",
        "--no-date-header",
    ]
    if factory:
        argv.append("--factory")
    process = ManagedProcess(target, argv, log_path=directory / f"{target}.log", cwd=ROOT)
    process.wait_for_port(port)
    return process, port


def granian_service(env: dict[str, str], directory: Path) -> tuple[ManagedProcess, int]:
    """Countersign's app (app.cli.serve_app, as `serve` builds it) under granian, beside the
    uvicorn instance that prepared the data directory: same settings, Redis and keys."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "granian",
        "app.cli.serve_app:create_app",
        "--factory",
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "1",
        "--no-ws",
        "--workers",
        str(WORKERS),
        "--runtime-mode",
        "st",
        "--log-level",
        "warning",
    ]
    process = ManagedProcess("granian", argv, log_path=directory / "granian.log", env=env, cwd=ROOT)
    process.wait_for_http(port, "/healthz", ready=lambda status: status == 200, timeout=60)
    return process, port


def static_backend(directory: Path) -> tuple[ManagedProcess, int]:
    """nginx answering 200 "ok" to everything: the static backend of (d)."""
    port = free_port()
    conf = directory / "static.conf"
    conf.write_text(
        f"worker_processes 1; daemon off; pid {directory}/static.pid;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; client_body_temp_path {directory}/cb; proxy_temp_path "
        f"{directory}/pt; fastcgi_temp_path {directory}/ft; uwsgi_temp_path {directory}/ut; "
        f"scgi_temp_path {directory}/st;\n"
        f"  server {{ listen 127.0.0.1:{port}; location / {{ return 200 'ok'; }} }} }}\n"
    )
    argv = [components.nginx(), "-p", f"{directory}/", "-c", str(conf), "-e", "stderr"]
    if os.geteuid() == 0:  # workers would switch to `nobody`, who cannot enter the temp dir
        argv += ["-g", "user root;"]
    process = ManagedProcess("static", argv, log_path=directory / "static.log")
    process.wait_for_port(port)
    return process, port


def main() -> int:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    base = Path(tempfile.mkdtemp(prefix="countersign-bench-"))
    started: list[ManagedProcess] = []
    try:
        redis_server = start_redis_server(base / "redis")
        started.append(redis_server.process)
        proxy_port = free_port()
        service = start_countersign(
            base / "countersign",
            redis_url=redis_server.url,
            policy_dir=ROOT / "policy_rules",
            public_url=f"http://auth.example.com:{proxy_port}",
            extra_env={"COUNTERSIGN_WORKERS": str(WORKERS)} if SERVER == "uvicorn" else None,
        )
        started.append(service.process)
        measured_pid, measured_port = service.process.popen.pid, service.port
        if SERVER == "granian":
            granian, measured_port = granian_service(service.env, base)
            started.append(granian)
            measured_pid = granian.popen.pid
        elif SERVER != "uvicorn":
            sys.exit(f"BENCH_SERVER={SERVER}: uvicorn or granian")
        raw_proc, raw_port = uvicorn("bench.null_apps:raw", base)
        fast_proc, fast_port = uvicorn("bench.null_apps:fastapi_app", base)
        started += [raw_proc, fast_proc]
        static_proc, static_port = static_backend(base)
        started.append(static_proc)
        proxy = start_proxy("nginx", Ports(measured_port, static_port, proxy_port), base / "nginx")
        started.append(proxy.process)
        # The same nginx configuration asking the raw ASGI app instead (200 to every check):
        # the floor of an auth_request hop to any uvicorn-served decision point.
        floor_port = free_port()
        floor = start_proxy("nginx", Ports(raw_port, static_port, floor_port), base / "nginx-floor")
        started.append(floor.process)

        # The SRE policy wants a managed device: Bob's token carries the device claim.
        bob = _mint_managed(service.env, service.data_dir)
        alice = service.mint(email="alice@example.com", groups=["engineering"])
        client = redis.Redis.from_url(redis_server.url)
        seed_grant(client, public_url=f"http://auth.example.com:{proxy_port}", seconds=3600)
        client.close()

        # A Countersign session for Bob, signed with the service's own (dev) session key, as
        # the sign-in would set it in the cookie.
        session = _session_for_bob(service.data_dir, public_url=service.public_url)
        rig = Rig(
            service=f"http://127.0.0.1:{measured_port}",
            service_pid=measured_pid,
            raw=(f"http://127.0.0.1:{raw_port}/", raw_proc.popen.pid),
            fastapi=(f"http://127.0.0.1:{fast_port}/x", fast_proc.popen.pid),
            static=f"http://127.0.0.1:{static_port}/",
            proxy=f"http://127.0.0.1:{proxy_port}",
            floor_proxy=f"http://127.0.0.1:{floor_port}",
            bob=bob,
            alice=alice,
            session=session,
        )
        rounds = [_round(rig) for _ in range(ROUNDS)]
        memo = _memo_counts(rig.service)
    finally:
        for process in reversed(started):
            process.stop()
        shutil.rmtree(base, ignore_errors=True)
    for number, results in enumerate(rounds, 1):
        _print(results, number)
    print(f"decision memo (docs/adr/0012), whole run: {memo}")
    return 0


def _memo_counts(service: str) -> str:
    """The service's decision memo hits and misses, from its /metrics."""
    text = httpx.get(f"{service}/metrics", timeout=10).text
    series = r"^countersign_decision_memo_(\w+?)(?:_total)? ([\d.e+]+)$"
    found = dict(re.findall(series, text, re.MULTILINE))
    if not found:
        return "off"
    return ", ".join(f"{name} {float(value):.0f}" for name, value in sorted(found.items()))


@dataclass(frozen=True)
class Rig:
    """The servers of one bench run (URL, and pid where its CPU time is measured)."""

    service: str
    service_pid: int
    raw: tuple[str, int]
    fastapi: tuple[str, int]
    static: str
    proxy: str
    #: nginx with the same configuration, its auth_request answered by the raw ASGI app.
    floor_proxy: str
    bob: str
    alice: str
    session: str


NGINX_AUTH = {"X-Original-URL": "https://grafana.example.com/d/1", "X-Original-Method": "GET"}


def _round(rig: Rig) -> list[Result]:
    """One pass over every case; the ceilings are measured in the same pass."""
    pid = rig.service_pid
    through = {"Host": "grafana.example.com", "Authorization": f"Bearer {rig.bob}"}
    return [
        wrk("(a) raw ASGI, 200 to everything", rig.raw[0], {}, server=rig.raw[1]),
        wrk("(a) FastAPI null route", rig.fastapi[0], {}, server=rig.fastapi[1]),
        wrk(
            "(b) /auth/nginx allow, cached JWT",
            f"{rig.service}/auth/nginx",
            {**NGINX_AUTH, "Authorization": f"Bearer {rig.bob}"},
            server=pid,
        ),
        wrk(
            "(c) /auth/nginx allow via grant",
            f"{rig.service}/auth/nginx",
            {**NGINX_AUTH, "Authorization": f"Bearer {rig.alice}"},
            server=pid,
        ),
        wrk("(d) nginx -> static backend", rig.static, {}),
        wrk("(d) nginx -> Countersign -> backend", f"{rig.proxy}/d/1", through, server=pid),
        # One connection: service time without queueing, for the added latency.
        wrk("(d) 1 conn: nginx -> static backend", rig.static, {}, connections="1"),
        wrk(
            "(d) 1 conn: nginx -> Countersign -> backend",
            f"{rig.proxy}/d/1",
            through,
            connections="1",
            server=pid,
        ),
        wrk(
            "(d) 1 conn: nginx -> raw ASGI auth -> backend",
            f"{rig.floor_proxy}/d/1",
            through,
            connections="1",
            server=rig.raw[1],
        ),
        wrk(
            "(e) /auth/nginx allow, session cookie",
            f"{rig.service}/auth/nginx",
            {**NGINX_AUTH, "Cookie": f"countersign_session={rig.session}"},
            server=pid,
        ),
    ]


def _session_for_bob(data_dir: Path, *, public_url: str) -> str:
    """A session token as the dev login issues it (the dev session key lives in DATA_DIR)."""
    keys = SessionKeys([SigningKey.from_file(data_dir / DEV_KEY_PATH)])
    sign_in = SignIn(
        issuer=public_url.rstrip("/") + "/dev",
        subject="bob@example.com",
        email="bob@example.com",
        groups=frozenset({"sre", "sre-leads"}),
        amr=frozenset({"pwd", "mfa"}),
        auth_time=int(time.time()),
    )
    claims = session_claims(
        sign_in,
        issuer=public_url.rstrip("/"),
        sid=new_session_id(),
        now=time.time(),
        ttl_seconds=3600,
        extra={"device_managed": True},
    )
    return keys.sign(claims)


def _mint_managed(env: dict[str, str], data_dir: Path) -> str:
    out = subprocess.run(
        [
            components.countersign(),
            "token",
            "mint",
            "--email",
            "bob@example.com",
            "--group",
            "sre",
            "--group",
            "sre-leads",
            "--device-managed",
            "--ttl",
            "1h",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def _print(results: list[Result], number: int) -> None:
    ceiling = results[0]
    print(
        f"\nround {number}/{ROUNDS}: wrk -t1 -c{CONNECTIONS} -d{DURATION}; ceilings: one uvicorn "
        f"worker each (uvloop, httptools); Countersign: {SERVER}, {WORKERS} worker(s); "
        "CPU µs = the server process's utime+stime per request"
    )
    print(
        f"{'case':44s} {'req/s':>9s} {'x raw':>6s} {'p50 ms':>7s} {'p99 ms':>7s} "
        f"{'CPU µs':>7s} {'raw µs':>7s}"
    )
    for r in results:
        print(
            f"{r.name:44s} {r.rps:9.0f} {r.rps / ceiling.rps:6.2f} {r.p50_ms:7.2f} "
            f"{r.p99_ms:7.2f} {r.cpu_us:7.1f} {ceiling.cpu_us:7.1f}"
        )
    for label, (direct, through) in (
        ("50 connections", results[4:6]),
        ("1 connection", results[6:8]),
    ):
        added = through.p50_ms - direct.p50_ms
        print(f"added p50 latency through Countersign (d), {label}: {added:.2f} ms")
    floor, through = results[8], results[7]
    print(
        "of which the auth_request hop itself (nginx -> raw ASGI auth -> backend, 1 connection): "
        f"{floor.p50_ms - results[6].p50_ms:.2f} ms; Countersign's decision over that floor: "
        f"{through.p50_ms - floor.p50_ms:.2f} ms"
    )


def grafana_scope() -> Scope:
    """The scope of Grafana's second-opinion policy in policy_rules/ (what ALICE asks under)."""
    apps = compile_policy_set(load_sources(ROOT / "policy_rules")).applications
    policy = apps["grafana"].policy_named("Engineers, second opinion required")
    assert policy is not None
    return Scope.of("grafana", policy)


def seed_grant(
    client: redis.Redis, *, public_url: str, seconds: int, grant_id: str = "bench"
) -> None:
    """An active Grafana grant for the dev token of alice@example.com, as the store writes it."""
    scope = grafana_scope()
    alice = Person(public_url.rstrip("/") + "/dev", "alice@example.com")
    value = {"id": grant_id, "expires_at": time.time() + seconds, "policy": scope.policy}
    client.set(grant_key(alice, scope), json.dumps(value), ex=seconds)


if __name__ == "__main__":
    sys.exit(main())
