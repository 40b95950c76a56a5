"""The one builder of AccessContext: every field lands where it belongs, and the user agent is
bounded whoever the caller is."""

from __future__ import annotations

from ipaddress import ip_address

from app.core.context import (
    MAX_USER_AGENT,
    NO_SIGNALS,
    UNKNOWN_DEVICE,
    AccessContext,
    Device,
    build_access_context,
)
from tests.core.personas import ALICE

MANAGED = Device(managed=True, tags=frozenset({"laptop"}), device_id="dev-1")


def test_builder_places_target_identity_and_signals() -> None:
    """Host, path, method, scheme, identity, IP, country, device and user agent all land in
    their own field."""
    context = build_access_context(
        host="grafana.example.com",
        path="/d/1",
        method="POST",
        scheme="http",
        identity=ALICE,
        signals=(ip_address("203.0.113.7"), "FR", MANAGED),
        user_agent="curl/8.5",
    )

    assert context == AccessContext(
        host="grafana.example.com",
        path="/d/1",
        method="POST",
        scheme="http",
        identity=ALICE,
        client_ip=ip_address("203.0.113.7"),
        country="FR",
        device=MANAGED,
        user_agent="curl/8.5",
    )


def test_builder_cuts_a_long_user_agent() -> None:
    """A user agent longer than MAX_USER_AGENT is cut to it, so no caller stores an unbounded
    header."""
    context = build_access_context(
        host="grafana.example.com", path="/", identity=ALICE, user_agent="x" * 5000
    )

    assert context.user_agent == "x" * MAX_USER_AGENT


def test_builder_without_signals_is_a_plain_get_over_https() -> None:
    """With no signals and no method or scheme, the attempt is a GET over https from an
    unknown address, country and device."""
    context = build_access_context(host="wiki.example.com", path="/", identity=None)

    assert (context.method, context.scheme) == ("GET", "https")
    assert (context.client_ip, context.country, context.device) == NO_SIGNALS
    assert context.device is UNKNOWN_DEVICE
    assert context.user_agent == ""
