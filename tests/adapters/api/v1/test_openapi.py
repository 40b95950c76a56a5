"""openapi/openapi.json is the API's contract: current, with stable operation ids, and the same
operations the running service serves."""

from __future__ import annotations

import json
from typing import Any

from app.adapters.api.v1.openapi import render
from tests.adapters.api.v1.world import ROOT, Api

CHECKED_IN = ROOT / "openapi" / "openapi.json"
OPERATION_IDS = {
    "createAccessRequest",
    "listAccessRequests",
    "getAccessRequest",
    "approveAccessRequest",
    "denyAccessRequest",
    "cancelAccessRequest",
    "listGrants",
    "getGrant",
    "revokeGrant",
    "extendGrant",
    "useBreakGlass",
    "listBreakGlassAwaitingReview",
    "reviewBreakGlass",
    "listAuditEntries",
    "getPolicies",
    "explainDecision",
    "policyImpact",
    "revokeSessions",
    "slackInteraction",
}


def operations(document: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(method, path) → operationId."""
    return {
        (method, path): operation["operationId"]
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


def test_the_checked_in_document_is_current() -> None:
    """The code and openapi/openapi.json agree; if not, run `make openapi`."""
    assert CHECKED_IN.read_text() == render(), "openapi/openapi.json is stale: run make openapi"


def test_operation_ids_are_the_published_ones() -> None:
    """Clients are generated from these names: changing one is a breaking change."""
    document = json.loads(CHECKED_IN.read_text())
    assert set(operations(document).values()) == OPERATION_IDS


def test_errors_are_documented_as_problem_json() -> None:
    """Every 4xx/5xx response of every operation is application/problem+json only."""
    document = json.loads(CHECKED_IN.read_text())
    for methods in document["paths"].values():
        for operation in methods.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"]


def test_the_service_serves_the_same_operations(api: Api) -> None:
    """/api/openapi.json of the wired service lists exactly the checked-in /api/v1 operations."""
    served = api.get("/api/openapi.json").json()
    ours = {
        key: value for key, value in operations(served).items() if key[1].startswith("/api/v1/")
    }
    checked_in = operations(json.loads(CHECKED_IN.read_text()))
    assert ours == {
        key: value for key, value in checked_in.items() if key[1].startswith("/api/v1/")
    }
