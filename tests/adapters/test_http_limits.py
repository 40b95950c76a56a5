"""Request-header limits on every endpoint: 431 before anything is judged, served or routed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from app.adapters.http_limits import MAX_HEADER_BYTES, MAX_HEADER_COUNT, headers_too_large
from app.cli.serve import SERVER_OPTIONS
from app.web import CountersignApp
from tests.support.ports import LOOPBACK, free_port

MEGABYTE = 1024 * 1024
PATHS = ["/auth/nginx", "/auth/traefik", "/auth/envoy/x", "/api/v1/requests", "/inbox", "/healthz"]


class Part:
    """A stand-in for forward-auth or FastAPI: answers 200 and counts what reached it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.calls += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": self.name.encode()})


def countersign() -> tuple[CountersignApp, Part, Part]:
    """The real dispatcher around two stand-ins."""
    forward_auth, api = Part("forward-auth"), Part("api")
    return CountersignApp(forward_auth=forward_auth, api=api), forward_auth, api  # type: ignore[arg-type]


def ask(app: CountersignApp, path: str, headers: list[tuple[str, str]]) -> httpx.Response:
    """One request through httpx's ASGI transport."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://countersign") as http:
            return await http.get(path, headers=headers)

    return asyncio.run(go())


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 431
    assert response.json() == {"error": "request-header-too-large"}
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["connection"] == "close"


def test_headers_within_the_limits_pass() -> None:
    """A browser's twenty headers and a 16 KiB session cookie are well inside the limits."""
    headers = [(b"x-header-%d" % i, b"v" * 40) for i in range(20)]
    headers.append((b"cookie", b"countersign_session=" + b"t" * 16384))
    assert not headers_too_large(headers)


def test_limits_count_names_and_values_and_lines() -> None:
    """Exactly at the limits passes; one byte or one line more is too large."""
    at_limit = [(b"x", b"v" * (MAX_HEADER_BYTES - 1))]
    assert not headers_too_large(at_limit)
    assert headers_too_large([(b"xy", b"v" * (MAX_HEADER_BYTES - 1))])
    lines = [(b"x", b"v")] * MAX_HEADER_COUNT
    assert not headers_too_large(lines)
    assert headers_too_large([*lines, (b"x", b"v")])


@pytest.mark.parametrize("path", PATHS)
def test_a_megabyte_header_is_431_on_every_endpoint(path: str) -> None:
    """MALLORY's 1 MB header is refused 431 on forward-auth, API, pages and health alike."""
    app, forward_auth, api = countersign()
    assert_refused(ask(app, path, [("x-filler", "a" * MEGABYTE)]))
    assert forward_auth.calls == api.calls == 0


@pytest.mark.parametrize("path", PATHS)
def test_too_many_headers_is_431_on_every_endpoint(path: str) -> None:
    """More header lines than the limit is refused 431, not judged (forward-auth said 400)."""
    app, forward_auth, api = countersign()
    headers = [(f"x-h{i}", "v") for i in range(MAX_HEADER_COUNT + 1)]
    assert_refused(ask(app, path, headers))
    assert forward_auth.calls == api.calls == 0


def test_a_large_sign_in_cookie_is_still_judged() -> None:
    """ALICE's 64 KiB of cookies and bearer token reach forward-auth."""
    app, forward_auth, _ = countersign()
    headers = [("cookie", "c=" + "x" * 32768), ("authorization", "Bearer " + "t" * 32768)]
    response = ask(app, "/auth/nginx", headers)
    assert response.status_code == 200
    assert forward_auth.calls == 1


@contextmanager
def serving(app: CountersignApp) -> Iterator[str]:
    """`app` behind a real uvicorn on loopback, run with the options `countersign serve` uses."""
    port = free_port()
    config = uvicorn.Config(app, host=LOOPBACK, port=port, lifespan="off", **SERVER_OPTIONS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


def test_a_real_server_answers_431_not_its_parsers_status() -> None:
    """Through uvicorn as served (httptools), a 1 MB header and 1000 headers get our 431."""
    app, forward_auth, api = countersign()
    with serving(app) as base, httpx.Client(base_url=base, timeout=20) as http:
        big = http.get("/auth/nginx", headers={"x-filler": "a" * MEGABYTE})
        many = http.get("/healthz", headers=[(f"x-h{i}", "v") for i in range(1000)])
        fine = http.get("/auth/nginx", headers={"cookie": "c=" + "x" * 65536})
    assert_refused(big)
    assert_refused(many)
    assert fine.status_code == 200
    assert forward_auth.calls == 1
    assert api.calls == 0
