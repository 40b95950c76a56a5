"""When Countersign cannot be reached every proxy fails closed: an error, never the backend."""

from __future__ import annotations

import pytest

from tests.support.gate import Gate

pytestmark = pytest.mark.e2e

#: nginx and Traefik turn a failed auth call into 500, Envoy (HTTP or gRPC) into 403, Caddy
#: into 502.
DOWN_STATUS = {"nginx": 500, "traefik": 500, "envoy": 403, "caddy": 502, "envoy-grpc": 403}


def test_countersign_down_fails_closed(down_gate: Gate) -> None:
    """With Countersign down the client gets the proxy's error and the backend nothing."""
    sent = down_gate.get("open.example.com", "/dashboard", headers={"Authorization": "Bearer x"})
    assert sent.status == DOWN_STATUS[down_gate.name]
    assert sent.arrived == ()


def test_countersign_down_keeps_bypassed_paths_closed(down_gate: Gate) -> None:
    """Even a bypassed path is not served when nobody can decide."""
    sent = down_gate.get("open.example.com", "/healthz")
    assert sent.status == DOWN_STATUS[down_gate.name]
    assert sent.arrived == ()
