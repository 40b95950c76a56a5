"""The `ip` selector: the client address is in one of the CIDR ranges (IPv4 or IPv6)."""

from __future__ import annotations

import pytest

from app.core.reasons import Reason
from app.core.selectors import SelectorError
from app.core.selectors.ip import compile_ip
from tests.core.personas import ALICE, NOW, request


def test_ip_v4_cidr_contains_client() -> None:
    """10.1.2.3 is in 10.0.0.0/8."""
    assert compile_ip("10.0.0.0/8").test(request(ALICE, ip="10.1.2.3"), NOW)


def test_ip_v4_cidr_excludes_client_outside() -> None:
    """11.0.0.1 is not in 10.0.0.0/8."""
    assert not compile_ip("10.0.0.0/8").test(request(ALICE, ip="11.0.0.1"), NOW)


def test_ip_v4_cidr_boundaries() -> None:
    """The first and last address of 192.0.2.0/28 are in; the next one is out."""
    rule = compile_ip("192.0.2.0/28")
    assert rule.test(request(ALICE, ip="192.0.2.0"), NOW)
    assert rule.test(request(ALICE, ip="192.0.2.15"), NOW)
    assert not rule.test(request(ALICE, ip="192.0.2.16"), NOW)


def test_ip_v6_cidr_contains_client() -> None:
    """2001:db8::42 is in 2001:db8::/32 and 2001:db9::1 is not."""
    rule = compile_ip("2001:db8::/32")
    assert rule.test(request(ALICE, ip="2001:db8::42"), NOW)
    assert not rule.test(request(ALICE, ip="2001:db9::1"), NOW)


def test_ip_bare_address_is_a_single_host() -> None:
    """A bare address means /32: its neighbour does not match."""
    rule = compile_ip("203.0.113.7")
    assert rule.test(request(ALICE, ip="203.0.113.7"), NOW)
    assert not rule.test(request(ALICE, ip="203.0.113.8"), NOW)


def test_ip_mixed_families_in_one_list() -> None:
    """A list may mix IPv4 and IPv6 ranges; each family is checked against its own."""
    rule = compile_ip(["10.0.0.0/8", "2001:db8::/32"])
    assert rule.test(request(ALICE, ip="10.9.9.9"), NOW)
    assert rule.test(request(ALICE, ip="2001:db8::1"), NOW)
    assert not rule.test(request(ALICE, ip="192.168.0.1"), NOW)


def test_ip_v4_mapped_v6_client_is_judged_as_v4() -> None:
    """::ffff:10.1.2.3 (a dual-stack socket's view of 10.1.2.3) is in 10.0.0.0/8."""
    assert compile_ip("10.0.0.0/8").test(request(ALICE, ip="::ffff:10.1.2.3"), NOW)


def test_ip_v4_mapped_v6_client_outside_v4_range() -> None:
    """::ffff:11.0.0.1 is not in 10.0.0.0/8."""
    assert not compile_ip("10.0.0.0/8").test(request(ALICE, ip="::ffff:11.0.0.1"), NOW)


@pytest.mark.parametrize("client", ["10.9.9.9", "::ffff:10.9.9.9"])
@pytest.mark.parametrize(
    "written", ["::ffff:10.9.9.9", "::ffff:a09:909/128", "::ffff:10.0.0.0/104"]
)
def test_ip_v4_mapped_range_in_a_policy_names_the_v4_addresses(client: str, written: str) -> None:
    """A policy that writes an IPv4 range in its IPv4-mapped form matches those clients,
    however the socket shows them: an `exclude` written this way must not silently miss."""
    assert compile_ip(written).test(request(ALICE, ip=client), NOW)
    assert not compile_ip(written).test(request(ALICE, ip="11.0.0.1"), NOW)


def test_ip_all_of_v6_includes_the_v4_mapped_clients() -> None:
    """`::/0` contains ::ffff:1.2.3.4, so it matches that client written either way."""
    rule = compile_ip("::/0")
    assert rule.test(request(ALICE, ip="::ffff:1.2.3.4"), NOW)
    assert rule.test(request(ALICE, ip="1.2.3.4"), NOW)


def test_ip_v4_range_does_not_match_plain_v6_client() -> None:
    """A native IPv6 client never matches an IPv4-only rule."""
    assert not compile_ip("0.0.0.0/0").test(request(ALICE, ip="2001:db8::1"), NOW)


def test_ip_no_client_ip_never_matches() -> None:
    """When the client address is unknown, even 0.0.0.0/0 and ::/0 do not match."""
    assert not compile_ip(["0.0.0.0/0", "::/0"]).test(request(ALICE, ip=None), NOW)


def test_ip_reasons() -> None:
    """The rule reports `ip-ok` / `ip-not-allowed`."""
    rule = compile_ip("10.0.0.0/8")
    assert (rule.ok, rule.fail) == (Reason.IP_OK, Reason.IP_NOT_ALLOWED)


def test_ip_host_bits_set_is_an_error() -> None:
    """10.0.0.1/8 is ambiguous (host bits set) and is refused with its index."""
    with pytest.raises(SelectorError) as info:
        compile_ip(["192.168.0.0/16", "10.0.0.1/8"])
    assert (info.value.code, info.value.at) == ("policy.bad_cidr", "[1]")


@pytest.mark.parametrize("value", ["10.0.0.0/33", "300.1.1.1", "not-an-ip", "2001:db8::/129"])
def test_ip_invalid_cidr_is_an_error_at_the_selector(value: str) -> None:
    """A malformed scalar CIDR is refused and located at the selector itself."""
    with pytest.raises(SelectorError) as info:
        compile_ip(value)
    assert (info.value.code, info.value.at) == ("policy.bad_cidr", "")


def test_ip_error_message_quotes_the_value() -> None:
    """The message names the offending text."""
    with pytest.raises(SelectorError, match=r"'10\.0\.0\.0/33' is not a valid CIDR"):
        compile_ip("10.0.0.0/33")


def test_ip_wrong_type_is_refused() -> None:
    """A number is not a CIDR list."""
    with pytest.raises(SelectorError) as info:
        compile_ip(10)
    assert info.value.code == "policy.wrong_type"
