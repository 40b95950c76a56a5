"""The forward-auth unit scenario: one policy set, fixed tokens, a grant store fake."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from ipaddress import ip_address

import httpx

from app.adapters.forward_auth.answers import Targets
from app.adapters.forward_auth.handler import ForwardAuth
from app.adapters.forward_auth.original import BadProxyRequestError
from app.core.context import UNKNOWN_DEVICE, Device, Identity, IPAddress
from app.core.decision import Decision, GrantState
from app.core.policy.compile import Source, compile_policy_set
from app.services.decide import DecisionService

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ALICE = Identity("alice", "alice@example.com", frozenset({"engineers"}))
BOB = Identity("bob", "bob@example.com", frozenset({"sre", "sre-leads"}))
MALLORY = Identity("mallory", "mallory@contractor.example", frozenset({"contractors"}))
TOKENS = {"alice-token": ALICE, "bob-token": BOB, "mallory-token": MALLORY}

POLICY = """
application: {id: grafana, name: Grafana, hosts: [grafana.example.com]}
policies:
  - name: SRE
    action: allow
    include: [{group: sre}]
  - name: Contractors never
    action: block
    include: [{group: contractors}]
  - name: Engineers with approval
    action: allow
    include: [{group: engineers}]
    approval: {approvers: [{group: sre-leads}], default_duration: 1h, max_duration: 8h}
"""
HEALTH = """
application: {id: health, hosts: [grafana.example.com], paths: [/healthz]}
policies:
  - {name: public, action: bypass, include: [{everyone: true}]}
"""
POLICIES = compile_policy_set([Source("grafana.yaml", POLICY), Source("health.yaml", HEALTH)])


class Grants:
    """A grant store fake: a fixed state, or an error to prove the service fails closed."""

    def __init__(self, state: GrantState | None = None, *, broken: bool = False) -> None:
        self.state = state or GrantState()
        self.broken = broken
        self.calls = 0

    async def grant_state(self, user: str, application: str) -> GrantState:
        self.calls += 1
        if self.broken:
            raise ConnectionError("redis down")
        return self.state


class Observer:
    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    def decided(self, decision: Decision, *, seconds: float) -> None:
        self.decisions.append(decision)

    def store_failed(self) -> None:
        pass


async def identify(headers: Mapping[str, str]) -> tuple[Identity | None, str | None]:
    auth = headers.get("authorization", "")
    token = auth.removeprefix("Bearer ")
    if not token:
        return None, None
    identity = TOKENS.get(token)
    return (identity, None) if identity else (None, "token-signature-invalid")


def signals(
    peer: str, headers: Mapping[str, str], identity: Identity | None
) -> tuple[IPAddress | None, str | None, Device]:
    if headers.get("x-forwarded-for") == "garbage":
        raise BadProxyRequestError("bad x-forwarded-for")
    return ip_address("198.51.100.7"), "FR", UNKNOWN_DEVICE


def build(grants: Grants | None = None) -> tuple[ForwardAuth, Grants, Observer]:
    grants = grants or Grants()
    observer = Observer()
    service = DecisionService(
        policies=lambda: POLICIES,
        grants=grants,
        clock=lambda: NOW,
        observer=observer,
        store_timeout=0.5,
    )
    handler = ForwardAuth(
        decisions=service,
        identify=identify,
        signals=signals,
        is_trusted_peer=lambda peer: peer == "127.0.0.1",
        targets=Targets("https://auth.example.com/login", "https://auth.example.com/request"),
    )
    return handler, grants, observer


def call(
    handler: ForwardAuth,
    path: str,
    headers: dict[str, str],
    *,
    method: str = "GET",
    client: tuple[str, int] = ("127.0.0.1", 5000),
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=handler, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://countersign") as http:
            return await http.request(method, path, headers=headers)

    return asyncio.run(go())


def nginx(url: str, token: str | None = None, **extra: str) -> dict[str, str]:
    headers = {"X-Original-URL": url, "X-Original-Method": "GET", "Accept": "text/html", **extra}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def traefik(
    url: str, token: str | None = None, method: str = "GET", **extra: str
) -> dict[str, str]:
    scheme, rest = url.split("://", 1)
    host, _, uri = rest.partition("/")
    headers = {
        "X-Forwarded-Proto": scheme,
        "X-Forwarded-Host": host,
        "X-Forwarded-Uri": "/" + uri,
        "X-Forwarded-Method": method,
        "Accept": "text/html",
        **extra,
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers
