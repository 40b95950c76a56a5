"""`ip: [10.0.0.0/8, 2001:db8::/32]` — the client IP (as established by trusted proxies)."""

from __future__ import annotations

import ipaddress
from datetime import datetime

from app.core.context import AccessContext
from app.core.policy.codes import PolicyErrorCode
from app.core.reasons import Reason
from app.core.selectors.base import (
    Rule,
    SelectorError,
    SelectorKind,
    register,
    render,
    string_list,
    string_list_schema,
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: object) -> tuple[Network, ...]:
    """Parse CIDRs (a bare address means /32 or /128); host bits set are an error."""
    networks: list[Network] = []
    for i, text in enumerate(string_list(value, what="a CIDR such as 10.0.0.0/8")):
        try:
            networks.append(ipaddress.ip_network(text, strict=True))
        except ValueError as exc:
            raise SelectorError(
                PolicyErrorCode.POLICY_BAD_CIDR,
                f"'{text}' is not a valid CIDR: {exc}",
                at=f"[{i}]" if isinstance(value, list) else "",
            ) from None
    return tuple(networks)


_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_ALL_V4 = ipaddress.IPv4Network("0.0.0.0/0")


def _ipv4_part(net: ipaddress.IPv6Network) -> ipaddress.IPv4Network | None:
    """The IPv4 addresses an IPv6 network names through the IPv4-mapped range, if any."""
    if net.prefixlen >= _MAPPED.prefixlen and net.subnet_of(_MAPPED):
        address = ipaddress.IPv4Address(int(net.network_address) & 0xFFFFFFFF)
        return ipaddress.IPv4Network((address, net.prefixlen - _MAPPED.prefixlen))
    return _ALL_V4 if _MAPPED.subnet_of(net) else None


def compile_ip(value: object) -> Rule:
    """Networks are collapsed per family. An IPv4-mapped IPv6 client is judged as IPv4, so
    an IPv4-mapped network in the policy (`::ffff:10.0.0.0/104`) is judged as the IPv4
    network it names: the same client must match whichever way either side writes it."""
    networks = parse_networks(value)
    v6 = tuple(ipaddress.collapse_addresses(n for n in networks if n.version == 6))
    mapped = (_ipv4_part(n) for n in v6)
    v4 = tuple(
        ipaddress.collapse_addresses(
            [*(n for n in networks if n.version == 4), *(n for n in mapped if n is not None)]
        )
    )

    def test(ctx: AccessContext, _now: datetime) -> bool:
        ip = ctx.client_ip
        if ip is None:
            return False
        if ip.version == 6:
            mapped = ip.ipv4_mapped
            if mapped is None:
                return any(ip in net for net in v6)
            ip = mapped
        return any(ip in net for net in v4)

    return Rule("ip", render("ip", value), test, Reason.IP_OK, Reason.IP_NOT_ALLOWED)


KIND = register(
    SelectorKind(
        name="ip",
        schema=string_list_schema("Client address ranges in CIDR notation, IPv4 or IPv6."),
        compile=compile_ip,
        summary="the client address is in one of these ranges",
    )
)
