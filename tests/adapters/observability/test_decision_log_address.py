"""The client address of a decision record is formatted once per parsed address."""

from __future__ import annotations

from ipaddress import ip_address

from app.adapters.observability.decision_log import DecisionLog
from app.core.context import UNKNOWN_DEVICE, AccessContext, IPAddress, build_access_context


def attempt(address: IPAddress | None) -> AccessContext:
    return build_access_context(
        host="grafana.example.com",
        path="/d/1",
        identity=None,
        signals=(address, None, UNKNOWN_DEVICE),
    )


def test_a_repeated_address_is_not_formatted_again() -> None:
    """The signal reader hands out one parsed object per address: its text is made once, and
    every other address (another object, IPv6, none) is still recorded as itself."""
    log = DecisionLog()
    alice = ip_address("198.51.100.7")
    first = log.inputs(attempt(alice))["client_ip"]
    assert first == "198.51.100.7"
    assert log.inputs(attempt(alice))["client_ip"] is first
    assert log.inputs(attempt(ip_address("198.51.100.8")))["client_ip"] == "198.51.100.8"
    assert log.inputs(attempt(ip_address("2001:db8::7")))["client_ip"] == "2001:db8::7"
    assert log.inputs(attempt(None))["client_ip"] is None
