"""Client IP: forwarded headers count only from trusted proxies, walked right to left."""

from __future__ import annotations

import importlib
from ipaddress import ip_address

import pytest

from app.adapters.signals.client_ip import (
    ForwardedHeaderError,
    TrustedProxies,
    client_ip,
    parse_address,
)

PROXIES = TrustedProxies(["127.0.0.1/32", "::1/128", "10.0.0.0/8", "fd00::/8"])
ALICE_IP = "198.51.100.7"
MALLORY_IP = "203.0.113.66"


def test_untrusted_peer_is_the_client() -> None:
    """MALLORY connecting directly cannot claim another address with X-Forwarded-For."""
    assert client_ip(MALLORY_IP, ALICE_IP, PROXIES) == ip_address(MALLORY_IP)


def test_trusted_peer_without_header_is_the_client() -> None:
    """A trusted proxy that sends no X-Forwarded-For is itself the client."""
    assert client_ip("127.0.0.1", None, PROXIES) == ip_address("127.0.0.1")


def test_one_trusted_proxy_reports_the_client() -> None:
    """nginx on loopback appending ALICE's address gives ALICE's address."""
    assert client_ip("127.0.0.1", ALICE_IP, PROXIES) == ip_address(ALICE_IP)


def test_walk_skips_trusted_hops_from_the_right() -> None:
    """Through two internal proxies, the first untrusted address from the right is the client."""
    assert client_ip("127.0.0.1", f"{ALICE_IP}, 10.1.2.3, 10.4.5.6", PROXIES) == ip_address(
        ALICE_IP
    )


def test_forged_left_entries_are_ignored() -> None:
    """MALLORY prepending ALICE's address only adds to the left of her own: she stays MALLORY."""
    assert client_ip("127.0.0.1", f"{ALICE_IP}, {MALLORY_IP}", PROXIES) == ip_address(MALLORY_IP)


def test_junk_left_of_the_client_is_not_read() -> None:
    """Whatever the client wrote itself is never parsed, so its junk cannot cause a 400."""
    assert client_ip("127.0.0.1", f"garbage, unknown, {ALICE_IP}", PROXIES) == ip_address(ALICE_IP)


def test_all_trusted_hops_give_the_left_most() -> None:
    """When every hop is a trusted proxy, the left-most one is the client."""
    assert client_ip("127.0.0.1", "10.9.9.9, 10.1.1.1", PROXIES) == ip_address("10.9.9.9")


def test_malformed_hop_from_a_trusted_proxy_is_an_error() -> None:
    """A hop the trusted proxy wrote that is not an address means a 400."""
    with pytest.raises(ForwardedHeaderError):
        client_ip("127.0.0.1", f"{ALICE_IP}, not-an-ip", PROXIES)


def test_unknown_token_is_an_error() -> None:
    """`unknown` (allowed by RFC 7239 style proxies) in a walked hop is refused."""
    with pytest.raises(ForwardedHeaderError):
        client_ip("127.0.0.1", "unknown", PROXIES)


def test_empty_hop_is_an_error() -> None:
    """`a,,b` from a trusted proxy is refused."""
    with pytest.raises(ForwardedHeaderError):
        client_ip("127.0.0.1", f"{ALICE_IP},,10.0.0.1", PROXIES)


def test_too_many_hops_is_an_error() -> None:
    """More than 32 hops is not a real proxy chain."""
    with pytest.raises(ForwardedHeaderError):
        client_ip("127.0.0.1", ", ".join(["10.0.0.1"] * 33), PROXIES)


def test_spaces_around_hops_are_allowed() -> None:
    """`  a ,b  ` parses."""
    assert client_ip("127.0.0.1", f"  {ALICE_IP} ,10.0.0.1  ", PROXIES) == ip_address(ALICE_IP)


def test_ipv4_with_port_is_stripped() -> None:
    """`1.2.3.4:5678` is 1.2.3.4."""
    assert client_ip("127.0.0.1", f"{ALICE_IP}:5678", PROXIES) == ip_address(ALICE_IP)


def test_bracketed_ipv6_with_port_is_stripped() -> None:
    """`[2001:db8::7]:443` is 2001:db8::7."""
    assert client_ip("::1", "[2001:db8::7]:443", PROXIES) == ip_address("2001:db8::7")


def test_bare_ipv6_hop_is_read() -> None:
    """An unbracketed IPv6 hop is read as IPv6, not as host:port."""
    assert client_ip("::1", "2001:db8::7, fd00::1", PROXIES) == ip_address("2001:db8::7")


def test_ipv4_mapped_hop_becomes_ipv4() -> None:
    """`::ffff:198.51.100.7` is ALICE's IPv4 address."""
    assert client_ip("127.0.0.1", f"::ffff:{ALICE_IP}", PROXIES) == ip_address(ALICE_IP)


def test_ipv4_mapped_peer_is_trusted_as_ipv4() -> None:
    """A dual-stack socket reporting `::ffff:127.0.0.1` is the trusted loopback proxy."""
    assert client_ip("::ffff:127.0.0.1", ALICE_IP, PROXIES) == ip_address(ALICE_IP)


def test_bad_port_is_an_error() -> None:
    """`1.2.3.4:` and `[::1]x` are refused."""
    for hop in (f"{ALICE_IP}:", "[::1]x", "[::1"):
        with pytest.raises(ForwardedHeaderError):
            parse_address(hop)


def test_zone_ids_are_refused() -> None:
    """A link-local address with a zone id is never a client address."""
    with pytest.raises(ForwardedHeaderError):
        parse_address("fe80::1%eth0")


def test_is_trusted_answers_for_peers() -> None:
    """`is_trusted` checks the socket peer; junk is simply untrusted."""
    assert [PROXIES.is_trusted(p) for p in ("10.2.3.4", MALLORY_IP, "", "testclient")] == [
        True,
        False,
        False,
        False,
    ]


def test_a_peers_trust_is_answered_from_its_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy's socket address repeats on every check: after the first answer, neither it
    nor its trust is worked out again (no address is parsed or hashed per request)."""
    module = importlib.import_module("app.adapters.signals.client_ip")
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert proxies.is_trusted("10.1.2.3")
    assert not proxies.is_trusted("192.0.2.1")
    assert not proxies.is_trusted("not an address")

    def unparsed(text: str) -> None:
        raise AssertionError(f"{text} parsed again")

    monkeypatch.setattr(module, "parse_address", unparsed)
    assert proxies.is_trusted("10.1.2.3")
    assert not proxies.is_trusted("192.0.2.1")
    assert not proxies.is_trusted("not an address")
