"""Outbound failures are named in words, from real failures on loopback."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pytest

from app.adapters.http_errors import cause
from tests.support.ports import free_port


def failure_of(url: str, *, timeout: float = 2.0) -> BaseException:
    async def call() -> BaseException:
        async with httpx.AsyncClient(timeout=timeout) as client:
            try:
                await client.get(url)
            except httpx.HTTPError as error:
                return error
        raise AssertionError("the call succeeded")

    return asyncio.run(call())


def test_nothing_listening_is_connection_refused() -> None:
    """A closed loopback port: "connection refused", not ConnectError."""
    assert cause(failure_of(f"http://127.0.0.1:{free_port()}/")) == "connection refused"


def test_an_unknown_host_is_named_so() -> None:
    """A name that cannot resolve (the .invalid TLD never does)."""
    assert cause(failure_of("http://countersign.invalid/")).startswith("host name not found")


def test_a_server_that_never_answers_is_a_timeout() -> None:
    """Accepts, then says nothing: "timed out waiting for the answer"."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        error = failure_of(f"http://127.0.0.1:{port}/", timeout=0.3)
    assert cause(error) == "timed out waiting for the answer"


def test_plain_http_on_a_tls_url_is_named() -> None:
    """https:// to a plain listener that closes: a TLS problem, in words."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        async def call() -> BaseException:
            async def serve() -> None:
                loop = asyncio.get_running_loop()
                listener.setblocking(False)
                conn, _ = await loop.sock_accept(listener)
                await loop.sock_sendall(conn, b"HTTP/1.1 400 Bad Request\r\n\r\n")
                conn.close()

            server = asyncio.create_task(serve())
            async with httpx.AsyncClient(timeout=2) as client:
                try:
                    await client.get(f"https://127.0.0.1:{port}/")
                except httpx.HTTPError as error:
                    await server
                    return error
            raise AssertionError("the call succeeded")

        error = asyncio.run(call())
    assert cause(error).startswith("TLS"), cause(error)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (json.JSONDecodeError("Expecting value", "<html>", 0), "the answer is not JSON"),
        (ValueError("HTTP 503"), "HTTP 503"),
        (httpx.ReadError(""), "read error"),
    ],
)
def test_other_failures_keep_their_message_or_are_spelled_out(
    error: BaseException, said: str
) -> None:
    """A message is kept; without one, the class name becomes words."""
    assert cause(error) == said
