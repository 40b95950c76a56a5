"""One client per flavour, each asking the same Checker the way its proxy does.

A rule of the decision-to-response table is written once (test_rules.py) and run through every
client here: nginx's auth_request, Traefik's forwardAuth (and Caddy's forward_auth, which sends
the same), Envoy's HTTP ext_authz, and any other transport registered in CLIENTS.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from app.adapters.forward_auth.handler import ForwardAuth
from tests.adapters.forward_auth.grpc_support import ask_servicer, envoy_request
from tests.adapters.forward_auth.scenario import call


@dataclass(frozen=True)
class View:
    """What the proxy got, the same way for every transport."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    #: Whether this proxy treats the answer as "let it through" (HTTP: 2xx; gRPC: status OK).
    allowed: bool = field(default=False)

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


@dataclass(frozen=True)
class Ask:
    """One original request, as a user's browser or API client sent it to the proxy."""

    url: str
    token: str | None = None
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    peer: str = "127.0.0.1"
    browser: bool = True

    def client_headers(self) -> dict[str, str]:
        headers = {"Accept": "text/html" if self.browser else "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(self.headers)
        return headers


def split(url: str) -> tuple[str, str, str]:
    """`https://h:1/p?q` → (scheme, authority, path and query)."""
    scheme, rest = url.split("://", 1)
    host, slash, uri = rest.partition("/")
    return scheme, host, slash + uri if slash else "/"


class Client(abc.ABC):
    name: str
    #: How this proxy shows a browser redirect: 302/303, or 401 + Location (nginx).
    redirect_statuses: tuple[int, ...] = (302, 303)

    @abc.abstractmethod
    def ask(self, handler: ForwardAuth, request: Ask) -> View: ...


def _view(response: httpx.Response) -> View:
    return View(
        response.status_code,
        {k.lower(): v for k, v in response.headers.items()},
        response.content,
        allowed=200 <= response.status_code < 300,
    )


class NginxClient(Client):
    name = "nginx"
    redirect_statuses = (401,)

    def ask(self, handler: ForwardAuth, request: Ask) -> View:
        headers = {"X-Original-URL": request.url, "X-Original-Method": request.method}
        headers.update(request.client_headers())
        return _view(call(handler, "/auth/nginx", headers, client=(request.peer, 5000)))


class TraefikClient(Client):
    name = "traefik"

    def ask(self, handler: ForwardAuth, request: Ask) -> View:
        scheme, host, uri = split(request.url)
        headers = {
            "X-Forwarded-Method": request.method,
            "X-Forwarded-Proto": scheme,
            "X-Forwarded-Host": host,
            "X-Forwarded-Uri": uri,
        }
        headers.update(request.client_headers())
        return _view(call(handler, "/auth/traefik", headers, client=(request.peer, 5000)))


class EnvoyHttpClient(Client):
    name = "envoy"

    def ask(self, handler: ForwardAuth, request: Ask) -> View:
        scheme, host, uri = split(request.url)
        headers = {"Host": host, "X-Forwarded-Proto": scheme}
        headers.update(request.client_headers())
        return _view(
            call(
                handler,
                f"/auth/envoy{uri}",
                headers,
                method=request.method,
                client=(request.peer, 5000),
            )
        )


class EnvoyGrpcClient(Client):
    """Envoy's ext_authz over gRPC, through the servicer, with the shipped config's header_map."""

    name = "envoy-grpc"

    def ask(self, handler: ForwardAuth, request: Ask) -> View:
        message = envoy_request(
            request.url, method=request.method, headers=request.client_headers(), raw=True
        )
        seen = ask_servicer(handler.checker, message, peer=request.peer)
        return View(seen.status, seen.headers, seen.body, allowed=seen.allowed)


CLIENTS: dict[str, Client] = {
    client.name: client
    for client in (NginxClient(), TraefikClient(), EnvoyHttpClient(), EnvoyGrpcClient())
}
