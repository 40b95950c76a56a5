"""SignalReader: one call gives client IP, country and device from trusted metadata."""

from __future__ import annotations

from ipaddress import ip_address
from types import MappingProxyType

import pytest

from app.adapters.signals.client_ip import ForwardedHeaderError
from app.adapters.signals.reader import SignalReader
from app.config import load_settings
from app.core.context import Device, Identity

BOB = Identity(
    subject="u-bob",
    email="bob@example.com",
    claims=MappingProxyType({"device_managed": True, "device_tags": ("disk-encrypted",)}),
    issuer="https://idp.example.com",
)


@pytest.fixture
def reader() -> SignalReader:
    settings = load_settings({"COUNTERSIGN_COUNTRY_HEADER": "CF-IPCountry"})
    return SignalReader.from_settings(settings.signals, identity=settings.identity)


def test_bob_behind_the_loopback_proxy(reader: SignalReader) -> None:
    """Through nginx on loopback: BOB's address, the proxy's country header, his token's device."""
    headers = {"x-forwarded-for": "198.51.100.9", "cf-ipcountry": "NL"}
    assert reader("127.0.0.1", headers, BOB) == (
        ip_address("198.51.100.9"),
        "NL",
        Device(managed=True, tags=frozenset({"disk-encrypted"})),
    )


def test_direct_client_gets_no_header_signals(reader: SignalReader) -> None:
    """A direct (untrusted) caller's forwarded and country headers are ignored."""
    headers = {"x-forwarded-for": "198.51.100.9", "cf-ipcountry": "NL"}
    address, country, _ = reader("203.0.113.66", headers, None)
    assert (address, country) == (ip_address("203.0.113.66"), None)


def test_bad_forwarded_header_from_the_proxy_raises(reader: SignalReader) -> None:
    """A trusted proxy's unreadable X-Forwarded-For raises ForwardedHeaderError (a 400)."""
    with pytest.raises(ForwardedHeaderError):
        reader("127.0.0.1", {"x-forwarded-for": "unknown"}, None)
