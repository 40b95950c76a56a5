"""The client's IP address: the peer, unless the peer is a trusted proxy; then X-Forwarded-For
walked right to left through trusted proxies, the first untrusted hop being the client."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from app.core.context import IPAddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: More hops than this is not a real proxy chain; refuse rather than walk it.
MAX_HOPS = 32
#: Parsed addresses and trust answers are remembered (proxies and clients repeat); the caches
#: are cleared when full, so a flood of distinct addresses costs memory only up to this bound.
CACHE_SIZE = 8192
_parsed: dict[str, IPAddress] = {}


class ForwardedHeaderError(ValueError):
    """A trusted proxy sent forwarding metadata we cannot read; the answer is 400."""


class TrustedProxies:
    """The networks whose forwarded headers are believed."""

    def __init__(self, networks: Iterable[str | Network]) -> None:
        self._known: dict[IPAddress, bool] = {}
        #: is_trusted's answers by the peer as written: no address is hashed per request.
        self._peers: dict[str, bool] = {}
        self._v4: list[ipaddress.IPv4Network] = []
        self._v6: list[ipaddress.IPv6Network] = []
        for item in networks:
            network = ipaddress.ip_network(item) if isinstance(item, str) else item
            if isinstance(network, ipaddress.IPv4Network):
                self._v4.append(network)
            else:
                self._v6.append(network)

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        known = self._known.get(address)
        if known is None:
            if isinstance(address, ipaddress.IPv4Address):
                known = any(address in network for network in self._v4)
            else:
                known = any(address in network for network in self._v6)
            if len(self._known) >= CACHE_SIZE:
                self._known.clear()
            self._known[address] = known
        return known

    def is_trusted(self, peer: str) -> bool:
        """True if `peer` (the socket address, as ASGI gives it) is a trusted proxy."""
        known = self._peers.get(peer)
        if known is None:
            try:
                known = parse_address(peer) in self
            except ForwardedHeaderError:
                known = False
            if len(self._peers) >= CACHE_SIZE:
                self._peers.clear()
            self._peers[peer] = known
        return known


def normalise(address: IPAddress) -> IPAddress:
    """IPv4-mapped IPv6 (`::ffff:1.2.3.4`, from dual-stack sockets) becomes plain IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_address(text: str) -> IPAddress:
    """One address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]`, `[::1]:80`."""
    cached = _parsed.get(text)
    if cached is not None:
        return cached
    address = _parse_address(text)
    if len(_parsed) >= CACHE_SIZE:
        _parsed.clear()
    _parsed[text] = address
    return address


def _parse_address(text: str) -> IPAddress:
    value = text.strip()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :] if end > 0 else "?"
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            raise ForwardedHeaderError("bad bracketed address")
        value = value[1:end]
    elif value.count(":") == 1:
        value, _, port = value.partition(":")
        if not port.isdigit():
            raise ForwardedHeaderError("bad address:port")
    if "%" in value:  # zone ids are local to one host; never a client address
        raise ForwardedHeaderError("address with a zone id")
    try:
        return normalise(ipaddress.ip_address(value))
    except ValueError:
        raise ForwardedHeaderError("not an IP address") from None


def client_ip(peer: str, forwarded_for: str | None, trusted: TrustedProxies) -> IPAddress:
    """The client address. Only the hops actually walked are parsed: whatever a client put to
    the left of its own address is its own invention and is never read."""
    peer_address = parse_address(peer)  # raises for an unreadable peer
    if not trusted.is_trusted(peer) or forwarded_for is None or not forwarded_for.strip():
        return peer_address
    hops = forwarded_for.split(",")
    if len(hops) > MAX_HOPS:
        raise ForwardedHeaderError(f"more than {MAX_HOPS} hops in X-Forwarded-For")
    address = peer_address
    for hop in reversed(hops):
        if not hop.strip():
            raise ForwardedHeaderError("empty hop in X-Forwarded-For")
        address = parse_address(hop)
        if address not in trusted:
            return address
    return address
