"""The people and helpers the core tests share: ALICE the engineer, BOB the SRE lead and
MALLORY the contractor, a pinned clock, and small builders for requests and policy sets."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import ip_address
from types import MappingProxyType

import pytest

from app.core.context import UNKNOWN_DEVICE, AccessContext, Device, Identity
from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.errors import PolicyCompileError, PolicyError
from app.core.policy.policy_set import PolicySet

ALICE = Identity(
    subject="u-alice",
    email="alice@example.com",
    groups=frozenset({"engineers"}),
    amr=frozenset({"pwd", "mfa"}),
    claims=MappingProxyType(
        {"department": "engineering", "level": 3, "roles": ["developer"], "scope": "read"}
    ),
    issuer="https://idp.example.com",
)
BOB = Identity(
    subject="u-bob",
    email="bob@example.com",
    groups=frozenset({"sre", "sre-leads"}),
    amr=frozenset({"mfa", "hwk"}),
    claims=MappingProxyType(
        {
            "department": "operations",
            "level": 5,
            "roles": ["oncall", "admin"],
            "scope": "read write",
        }
    ),
    issuer="https://idp.example.com",
)
MALLORY = Identity(
    subject="u-mallory",
    email="mallory@contractor.example",
    groups=frozenset({"contractors"}),
    amr=frozenset({"pwd"}),
    claims=MappingProxyType({"department": "external", "level": 1}),
    issuer="https://idp.example.com",
)

#: A Monday morning in UTC; every test that needs a clock starts from here.
NOW = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)

MANAGED = Device(managed=True, tags=frozenset({"disk-encrypted", "os-current"}), device_id="d-1")
PERSONAL = UNKNOWN_DEVICE


def request(
    identity: Identity | None = None,
    *,
    host: str = "app.example.com",
    path: str = "/",
    ip: str | None = None,
    country: str | None = None,
    device: Device = UNKNOWN_DEVICE,
) -> AccessContext:
    """An access attempt with only the fields a test cares about."""
    return AccessContext(
        host=host,
        path=path,
        identity=identity,
        client_ip=ip_address(ip) if ip is not None else None,
        country=country,
        device=device,
    )


def compile_texts(*texts: str) -> PolicySet:
    """Compile YAML application documents named apps/0.yaml, apps/1.yaml, ..."""
    return compile_policy_set([Source(f"apps/{i}.yaml", t) for i, t in enumerate(texts)])


def compile_errors(*texts: str) -> tuple[PolicyError, ...]:
    """The errors compiling these documents produces; fails the test if it compiles."""
    with pytest.raises(PolicyCompileError) as info:
        compile_texts(*texts)
    return info.value.errors
