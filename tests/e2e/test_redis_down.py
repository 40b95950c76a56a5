"""When Countersign cannot reach Redis, decisions that need grant state fail closed."""

from __future__ import annotations

import pytest

from tests.support.gate import Gate
from tests.support.personas import Tokens

pytestmark = pytest.mark.e2e

#: Countersign answers 503; nginx turns it into 500 and Envoy treats any 5xx as a 403 (over
#: gRPC the 503 is a denied answer, which Envoy passes on).
CANNOT_DECIDE = {"nginx": 500, "traefik": 503, "envoy": 403, "caddy": 503, "envoy-grpc": 503}


def test_approval_app_fails_closed_without_redis(
    no_redis_gate: Gate, no_redis_tokens: Tokens
) -> None:
    """With Redis gone, ALICE's request to the approval-gated app errors and never gets through."""
    sent = no_redis_gate.get("approval.example.com", "/reports", token=no_redis_tokens.alice)
    assert sent.status == CANNOT_DECIDE[no_redis_gate.name]
    assert sent.arrived == ()


def test_app_without_grants_keeps_working_without_redis(
    no_redis_gate: Gate, no_redis_tokens: Tokens
) -> None:
    """An app whose policy needs no grant still lets ALICE in while Redis is gone."""
    sent = no_redis_gate.get("open.example.com", "/dashboard", token=no_redis_tokens.alice)
    assert sent.status == 200
    assert len(sent.arrived) == 1
