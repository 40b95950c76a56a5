"""What a decision is about: the request, who makes it, and the signals around it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from types import MappingProxyType
from typing import Any

IPAddress = IPv4Address | IPv6Address
#: What a User-Agent header may add to a context (and so to a request's record).
MAX_USER_AGENT = 512


def _no_claims() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified user. `email` and `groups` are normalised (lower-case email)."""

    subject: str
    email: str | None = None
    groups: frozenset[str] = frozenset()
    amr: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=_no_claims)
    issuer: str = ""

    @property
    def user(self) -> str:
        """The stable name Countersign uses for this user in grants, logs and headers."""
        return self.email or self.subject

    @property
    def email_domain(self) -> str | None:
        """The part after the last '@' of the email, if any."""
        if not self.email or "@" not in self.email:
            return None
        return self.email.rsplit("@", 1)[1]


@dataclass(frozen=True, slots=True)
class Device:
    """Device posture as established by a trusted signal (mTLS inventory or token claims)."""

    managed: bool = False
    tags: frozenset[str] = frozenset()
    device_id: str | None = None


UNKNOWN_DEVICE = Device()


@dataclass(frozen=True, slots=True)
class AccessContext:
    """One access attempt. `path` is already normalised by the caller (see `paths`)."""

    host: str
    path: str
    method: str = "GET"
    scheme: str = "https"
    identity: Identity | None = None
    client_ip: IPAddress | None = None
    country: str | None = None
    device: Device = UNKNOWN_DEVICE
    user_agent: str = ""


#: What the trusted metadata of one request says: client IP, country, device.
Signals = tuple[IPAddress | None, str | None, Device]
#: No signals at all (a hypothetical request that names none).
NO_SIGNALS: Signals = (None, None, UNKNOWN_DEVICE)


def build_access_context(
    *,
    host: str,
    path: str,
    identity: Identity | None,
    signals: Signals = NO_SIGNALS,
    method: str = "GET",
    scheme: str = "https",
    user_agent: str = "",
) -> AccessContext:
    """The one way to make an AccessContext, so forward-auth, the pages, the API and the
    policy tools describe an attempt alike; the user agent is cut to MAX_USER_AGENT here so
    no caller can store an unbounded header."""
    client_ip, country, device = signals
    return AccessContext(
        host=host,
        path=path,
        method=method,
        scheme=scheme,
        identity=identity,
        client_ip=client_ip,
        country=country,
        device=device,
        user_agent=user_agent[:MAX_USER_AGENT],
    )
