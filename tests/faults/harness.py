"""What the fault scenarios share: a real `countersign serve` in front of the Redis topology
under test, API calls as the personas, and a steady stream of forward-auth checks.

Policies are the end-to-end suite's: approval.example.com needs a lead's approval; ALICE the
engineer gets one from BOB (lead), MALLORY never has one, so a 200 for her is a wrong allow.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from app.adapters.store.keys import AUDIT_KEY
from tests.support import components
from tests.support.countersign import RunningCountersign, start_countersign

POLICY_DIR = Path(__file__).resolve().parents[1] / "e2e" / "policies"
PUBLIC_URL = "http://auth.example.com:8000"
APPLICATION = "approval"
TARGET = "https://approval.example.com/reports"
ALICE = "alice@example.com"
BOB = "bob@example.com"
MALLORY = "mallory@example.com"
#: The forward-auth answer each persona should get when Redis is up: ALICE has a grant, MALLORY
#: (an API client, so no redirect) needs one.
EXPECTED: Mapping[str, int] = {ALICE: 200, MALLORY: 403}
GROUPS: Mapping[str, tuple[str, ...]] = {BOB: ("admins", "leads")}
POLL = 0.02


def until(condition: Callable[[], bool], *, timeout: float, what: str) -> float:
    """Poll `condition` until true; return the seconds it took, fail after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not {what} within {timeout:.0f} s")
        time.sleep(POLL)
    return time.monotonic() - started


def check_headers(token: str) -> dict[str, str]:
    """What nginx's auth subrequest sends for an API client of approval.example.com."""
    return {
        "X-Original-URL": TARGET,
        "X-Original-Method": "GET",
        "Accept": "application/json",
        "Authorization": f"Bearer {token}",
    }


@dataclass
class Service:
    """A running Countersign, the personas' tokens for it, and API calls as them."""

    running: RunningCountersign
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """Where the service listens."""
        return self.running.base_url

    def mint(self, *emails: str) -> None:
        """Dev tokens for `emails` (leads for BOB, engineers otherwise), minted in parallel."""
        todo = [e for e in emails if e not in self.tokens]
        with ThreadPoolExecutor(max_workers=2) as pool:
            minted = pool.map(
                lambda e: self.running.mint(email=e, groups=GROUPS.get(e, ("engineers",))), todo
            )
            self.tokens.update(zip(todo, minted, strict=True))

    def call(self, method: str, path: str, who: str, **kwargs: object) -> httpx.Response:
        """One API call as `who` (10 s timeout)."""
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.request(
            method,
            f"{self.base_url}{path}",
            headers=headers,
            timeout=10,
            **kwargs,  # type: ignore[arg-type]
        )

    def check(self, who: str, *, timeout: float = 10.0) -> int:
        """The forward-auth answer for `who` opening approval.example.com."""
        answer = httpx.get(
            f"{self.base_url}/auth/nginx", headers=check_headers(self.tokens[who]), timeout=timeout
        )
        return answer.status_code

    def ask(self, who: str) -> str:
        """`who` asks for the approval-gated app; the request id."""
        answer = self.call(
            "POST", "/api/v1/access-requests", who, json={"application": APPLICATION}
        )
        assert answer.status_code in (200, 201), answer.text
        request = answer.json()["request"]
        assert request is not None, answer.text
        return str(request["id"])

    def approve(self, request_id: str, *, by: str = BOB) -> str:
        """`by` approves; the grant id."""
        answer = self.call("POST", f"/api/v1/access-requests/{request_id}/approve", by)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["grant_id"])

    def grant(self, who: str) -> str:
        """`who` asks and BOB approves: the grant id."""
        return self.approve(self.ask(who))

    def revoke(self, grant_id: str, *, by: str = BOB) -> httpx.Response:
        """`by` revokes a grant."""
        return self.call("DELETE", f"/api/v1/grants/{grant_id}", by)

    def stop(self) -> None:
        """Stop the service."""
        self.running.stop()


def start_service(
    directory: Path, *, redis_url: str, env: Mapping[str, str] | None = None
) -> Service:
    """`countersign serve` on a free port with the end-to-end policies."""
    running = start_countersign(
        directory,
        redis_url=redis_url,
        policy_dir=POLICY_DIR,
        public_url=PUBLIC_URL,
        extra_env=env,
    )
    return Service(running)


@dataclass(frozen=True, slots=True)
class Shot:
    """One forward-auth check: when it started and ended (monotonic), for whom, the status
    (None: no answer within the client's timeout, or the connection failed)."""

    started: float
    ended: float
    who: str
    status: int | None


class Load:
    """Forward-auth checks at a steady rate from a thread of its own, round-robin over the
    people given, each started on schedule whether or not earlier ones have answered."""

    def __init__(
        self,
        base_url: str,
        tokens: Mapping[str, str],
        people: Sequence[str],
        *,
        rate: float = 40.0,
        timeout: float = 5.0,
    ) -> None:
        self._url = f"{base_url}/auth/nginx"
        self._headers = {who: check_headers(tokens[who]) for who in people}
        self._people = list(people)
        self._interval = 1.0 / rate
        self._timeout = timeout
        self._shots: list[Shot] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> list[Shot]:
        """Stop firing, wait for the checks in flight, and return every shot."""
        self._stopping.set()
        self._thread.join(timeout=self._timeout + 10)
        return self.shots()

    def shots(self) -> list[Shot]:
        """The answered (or failed) checks so far, in the order they ended."""
        with self._lock:
            return list(self._shots)

    def wait(self, condition: Callable[[list[Shot]], bool], *, timeout: float, what: str) -> None:
        """Until `condition(shots)` holds."""
        until(lambda: condition(self.shots()), timeout=timeout, what=what)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        async with httpx.AsyncClient(timeout=self._timeout, limits=limits) as client:
            tasks: set[asyncio.Task[None]] = set()
            start = time.monotonic()
            tick = 0
            while not self._stopping.is_set():
                who = self._people[tick % len(self._people)]
                task = asyncio.create_task(self._shoot(client, who))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                tick += 1
                await asyncio.sleep(max(0.0, start + tick * self._interval - time.monotonic()))
            if tasks:
                await asyncio.wait(tasks)

    async def _shoot(self, client: httpx.AsyncClient, who: str) -> None:
        started = time.monotonic()
        try:
            status: int | None = (
                await client.get(self._url, headers=self._headers[who])
            ).status_code
        except httpx.HTTPError:
            status = None
        shot = Shot(started, time.monotonic(), who, status)
        with self._lock:
            self._shots.append(shot)


def statuses(shots: Sequence[Shot], who: str | None = None) -> dict[int | None, int]:
    """How many shots (of `who`) got each status."""
    counts: dict[int | None, int] = {}
    for shot in shots:
        if who is None or shot.who == who:
            counts[shot.status] = counts.get(shot.status, 0) + 1
    return counts


def between(shots: Sequence[Shot], start: float, end: float) -> list[Shot]:
    """Shots started in [start, end)."""
    return [s for s in shots if start <= s.started < end]


def shown(counts: Mapping[int | None, int]) -> str:
    """`{503: 40, None: 2}` as `503x40 none x2`."""
    return (
        " ".join(
            f"{status if status is not None else 'none'}x{n}"
            for status, n in sorted(counts.items(), key=lambda kv: str(kv[0]))
        )
        or "-"
    )


def audit_verify(service: Service) -> tuple[bool, str]:
    """`countersign audit verify` with the service's settings: (intact, its one line)."""
    result = subprocess.run(
        [components.countersign(), "audit", "verify"],
        capture_output=True,
        text=True,
        env=service.running.env,
        timeout=60,
        check=False,
    )
    line = (result.stdout.strip() or result.stderr.strip()).splitlines()[-1:] or [""]
    return result.returncode == 0, line[0]


def audit_events(redis_url: str, *, cluster: bool = False) -> list[dict[str, Any]]:
    """Every audit event, oldest first, read straight from Redis."""
    client: Any = (
        redis.RedisCluster.from_url(redis_url) if cluster else redis.Redis.from_url(redis_url)
    )
    with client:
        rows = client.xrange(AUDIT_KEY)
    return [json.loads(fields[b"event"]) for _, fields in rows]
