"""Country: a trusted proxy's header, else a MaxMind database; unknown stays None."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from app.adapters.signals.country import CountryResolver, country_code
from app.config import SettingsError

ALICE_IP = ip_address("198.51.100.7")  # in the test DB: DE
MALLORY_IP = ip_address("203.0.113.66")  # in the test DB: KP
BOB_IP6 = ip_address("2001:db8::7")  # in the test DB: NL


@pytest.fixture
def geoip_db(tmp_path: Path) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    writer.insert_network(IPSet(["198.51.100.0/24"]), {"country": {"iso_code": "DE"}})
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "KP"}})
    writer.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "NL"}})
    writer.insert_network(IPSet(["192.0.2.0/24"]), {"continent": {"code": "EU"}})
    path = tmp_path / "country.mmdb"
    writer.to_db_file(str(path))
    return path


@pytest.fixture
def from_db(geoip_db: Path) -> Iterator[CountryResolver]:
    resolver = CountryResolver(geoip_db=geoip_db)
    yield resolver
    resolver.close()


def test_header_from_a_trusted_proxy_is_used() -> None:
    """CF-IPCountry from a trusted proxy names ALICE's country."""
    resolver = CountryResolver(header="CF-IPCountry")
    assert resolver.resolve(ALICE_IP, {"cf-ipcountry": "de"}, peer_trusted=True) == "DE"


def test_header_from_an_untrusted_peer_is_ignored() -> None:
    """MALLORY sending CF-IPCountry herself changes nothing."""
    resolver = CountryResolver(header="CF-IPCountry")
    assert resolver.resolve(MALLORY_IP, {"cf-ipcountry": "DE"}, peer_trusted=False) is None


@pytest.mark.parametrize("value", ["XX", "T1", "", "Germany", "D", "ZZ", "<b>"])
def test_unknown_or_junk_header_values_are_none(value: str) -> None:
    """Cloudflare's XX (unknown), T1 (Tor) and junk are not countries."""
    resolver = CountryResolver(header="CF-IPCountry")
    assert resolver.resolve(ALICE_IP, {"cf-ipcountry": value}, peer_trusted=True) is None


def test_kosovo_is_a_country() -> None:
    """XK, used by GeoIP databases for Kosovo, is accepted."""
    assert country_code("xk") == "XK"


def test_database_resolves_ipv4(from_db: CountryResolver) -> None:
    """An IPv4 client is found in an IPv6 database with the IPv4 subtree."""
    assert from_db.resolve(MALLORY_IP, {}, peer_trusted=False) == "KP"


def test_database_resolves_ipv6(from_db: CountryResolver) -> None:
    """An IPv6 client is found."""
    assert from_db.resolve(BOB_IP6, {}, peer_trusted=False) == "NL"


def test_database_resolves_ipv4_mapped_ipv6(from_db: CountryResolver) -> None:
    """`::ffff:198.51.100.7` is looked up as ALICE's IPv4 address."""
    assert from_db.resolve(ip_address("::ffff:198.51.100.7"), {}, peer_trusted=False) == "DE"


def test_address_missing_from_the_database_is_none(from_db: CountryResolver) -> None:
    """An address the database does not know has no country."""
    assert from_db.resolve(ip_address("8.8.8.8"), {}, peer_trusted=False) is None


def test_record_without_a_country_is_none(from_db: CountryResolver) -> None:
    """A record holding only a continent gives no country."""
    assert from_db.resolve(ip_address("192.0.2.1"), {}, peer_trusted=False) is None


def test_trusted_header_wins_over_the_database(geoip_db: Path) -> None:
    """When both are configured, the trusted proxy's header is authoritative."""
    resolver = CountryResolver(header="cf-ipcountry", geoip_db=geoip_db)
    try:
        assert resolver.resolve(MALLORY_IP, {"cf-ipcountry": "FR"}, peer_trusted=True) == "FR"
    finally:
        resolver.close()


def test_database_is_used_when_the_header_is_absent(geoip_db: Path) -> None:
    """No header from the proxy: the database answers."""
    resolver = CountryResolver(header="cf-ipcountry", geoip_db=geoip_db)
    try:
        assert resolver.resolve(ALICE_IP, {}, peer_trusted=True) == "DE"
    finally:
        resolver.close()


def test_missing_database_fails_at_start(tmp_path: Path) -> None:
    """A GEOIP_DB path that does not exist is a one-line SettingsError naming the variable."""
    with pytest.raises(SettingsError, match=r"^COUNTERSIGN_GEOIP_DB: no such file: "):
        CountryResolver(geoip_db=tmp_path / "missing.mmdb")


def test_non_database_file_fails_at_start(tmp_path: Path) -> None:
    """A file that is not a MaxMind DB is refused at start."""
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database")
    with pytest.raises(SettingsError, match=r"^COUNTERSIGN_GEOIP_DB: .* not a MaxMind database"):
        CountryResolver(geoip_db=junk)
