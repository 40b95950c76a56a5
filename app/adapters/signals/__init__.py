"""Signals around a request: client IP, country and device posture, read from trusted
metadata only."""

from app.adapters.signals.client_ip import (
    ForwardedHeaderError,
    TrustedProxies,
    client_ip,
    parse_address,
)
from app.adapters.signals.country import CountryResolver, country_code
from app.adapters.signals.device import DeviceResolver, load_inventory, normalise_fingerprint
from app.adapters.signals.reader import SignalReader

__all__ = [
    "CountryResolver",
    "DeviceResolver",
    "ForwardedHeaderError",
    "SignalReader",
    "TrustedProxies",
    "client_ip",
    "country_code",
    "load_inventory",
    "normalise_fingerprint",
    "parse_address",
]
