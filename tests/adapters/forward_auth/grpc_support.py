"""Envoy's side of the gRPC check, for tests: CheckRequest protos built the way Envoy builds
them, a real grpc.aio client channel, and the CheckResponse read back as (status, headers,
body, allowed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import grpc
from envoy.service.auth.v3.external_auth_pb2 import CheckRequest, CheckResponse

from app.adapters.forward_auth.check import Checker
from app.adapters.forward_auth.deny_page import DenyPage
from app.adapters.forward_auth.grpc.server import CheckService, GrpcListener, start_grpc
from tests.adapters.forward_auth.scenario import POLICIES, build

CHECK_PATH = "/envoy.service.auth.v3.Authorization/Check"
OK = 0
GRAFANA = "https://grafana.example.com/d/1?x=1"
HEALTH = "https://grafana.example.com/healthz"
#: HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
OVERWRITE = 2
BROWSER = {"accept": "text/html"}
API = {"accept": "application/json"}


@dataclass(frozen=True)
class Seen:
    """What Envoy makes of one CheckResponse."""

    allowed: bool
    grpc_code: int
    status: int
    #: Allow: set on the upstream request; deny: sent to the client. Lower-case names.
    headers: dict[str, str]
    #: The append action of each header (allow and deny alike).
    actions: dict[str, int]
    remove: tuple[str, ...]
    body: bytes


def envoy_request(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    raw: bool = False,
    scheme: str | None = None,
) -> CheckRequest:
    """The CheckRequest Envoy sends for `method url` with `headers` (names lower-cased, the
    pseudo-headers added). `raw` uses header_map (encode_raw_headers: true), one entry per
    line; otherwise the `headers` map, repeated names joined with "," as Envoy does."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    given = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    lines = [
        (":authority", parts.netloc),
        (":path", path),
        (":method", method),
        (":scheme", parts.scheme),
        *((name.lower(), value) for name, value in given),
    ]
    message = CheckRequest()
    http = message.attributes.request.http
    http.method = method
    http.scheme = parts.scheme if scheme is None else scheme
    http.host = parts.netloc
    http.path = path
    if raw:
        for name, value in lines:
            header = http.header_map.headers.add()
            header.key = name
            header.raw_value = value.encode("latin-1")
    else:
        for name, value in lines:
            http.headers[name] = f"{http.headers[name]},{value}" if name in http.headers else value
    return message


def seen(response: CheckResponse) -> Seen:
    """A CheckResponse as Envoy acts on it."""
    allowed = response.status.code == OK
    part = response.ok_response if allowed else response.denied_response
    return Seen(
        allowed=allowed,
        grpc_code=response.status.code,
        status=200 if allowed else response.denied_response.status.code,
        headers={o.header.key.lower(): o.header.value for o in part.headers},
        actions={o.header.key.lower(): o.append_action for o in part.headers},
        remove=tuple(response.ok_response.headers_to_remove),
        body=b"" if allowed else response.denied_response.body.encode(),
    )


class Peer:
    """The servicer context as grpc gives it, reporting `address` as the caller."""

    def __init__(self, address: str) -> None:
        self._peer = f"ipv6:%5B{address}%5D:5000" if ":" in address else f"ipv4:{address}:5000"

    def peer(self) -> str:
        return self._peer


def ask_servicer(checker: Checker, request: CheckRequest, *, peer: str = "127.0.0.1") -> Seen:
    """One Check through the servicer itself, as if from `peer` (no socket)."""
    service = CheckService(checker)
    data = asyncio.run(service.check(request.SerializeToString(), Peer(peer)))
    return seen(CheckResponse.FromString(data))


@asynccontextmanager
async def serving(checker: Checker) -> AsyncIterator[tuple[GrpcListener, grpc.aio.Channel]]:
    """A real listener on a free loopback port and a client channel to it."""
    listener = await start_grpc(checker, "127.0.0.1", 0)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{listener.port}") as channel:
            yield listener, channel
    finally:
        await listener.stop(None)


async def call(channel: grpc.aio.Channel, request: CheckRequest, *, deadline: float = 10) -> Seen:
    """One Check over the channel, as Envoy sends it."""
    check = channel.unary_unary(
        CHECK_PATH,
        request_serializer=CheckRequest.SerializeToString,
        response_deserializer=CheckResponse.FromString,
    )
    return seen(await check(request, timeout=deadline))


def ask_over_loopback(checker: Checker, request: CheckRequest) -> Seen:
    """One Check through a real listener and channel on loopback."""

    async def go() -> Seen:
        async with serving(checker) as (_, channel):
            return await call(channel, request)

    return asyncio.run(go())


def checker(*, page: bool = False) -> Checker:
    """The unit scenario's Checker; `page` adds the refusal page for denied browsers."""
    handler, _, _ = build()
    if not page:
        return handler.checker
    return Checker(
        decisions=handler.checker.decisions,
        identify=handler.checker.identify,
        signals=handler.checker.signals,
        is_trusted_peer=handler.checker.is_trusted_peer,
        targets=handler.checker.targets,
        deny_page=DenyPage(
            policies=lambda: POLICIES,
            public_url="https://auth.example.com",
            login_url="https://auth.example.com/login",
        ),
    )


def ask(
    url: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    *,
    raw: bool = True,
    method: str = "GET",
    via: Checker | None = None,
) -> Seen:
    """One check of the unit scenario over loopback, with Envoy's header_map (the shipped
    config) unless `raw` is False; `via` another Checker."""
    request = envoy_request(url, method=method, headers=headers, raw=raw)
    return ask_over_loopback(via if via is not None else checker(), request)


def bearer(token: str, extra: Mapping[str, str] = API) -> dict[str, str]:
    """Headers of a client presenting `token`."""
    return {"authorization": f"Bearer {token}", **extra}
