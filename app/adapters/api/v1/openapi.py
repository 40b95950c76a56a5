"""The OpenAPI document of /api/v1, checked in at openapi/openapi.json (`make openapi`).

`python -m app.adapters.api.v1.openapi` prints it: deterministic (sorted keys, two-space
indent), built from the routes alone, so it needs no Redis, settings or policies.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from fastapi import FastAPI

from app.adapters.api.v1.idempotency import as_reusable_parameter
from app.adapters.api.v1.problems import MEDIA_TYPE
from app.adapters.api.v1.router import api_v1_router
from app.adapters.slack.routes import documented_router

TITLE = "Countersign API"
VERSION = "1.0.0"
DESCRIPTION = """\
Access requests, grants, the audit log and policies of Countersign, a zero-trust policy
decision point.

**Authentication.** `Authorization: Bearer <JWT>` with a token from a configured issuer (the
same identities as forward-auth; the session cookie is not accepted here), or
`Authorization: Bearer cst_...` with a service token. Service tokens are configured in the
config file as `service_tokens: [{name, sha256, scopes}]` (`countersign token service` makes
one) with the scopes `requests:read`, `requests:create` (ask, extend and withdraw for the person
it acts for), `requests:review`, `grants:revoke` and `audit:read`. A service token acting for a
person also sends that person's JWT in `X-Countersign-User-Token`; reviews made that way record
both. Admins are the members of `COUNTERSIGN_ADMIN_GROUPS`.

**Errors** are RFC 9457 problem documents (`application/problem+json`) with a stable `code`.
An approval refused because the policy's `reviewers_need` asks for a fresher or MFA sign-in is
401 `step-up-required`, with an RFC 9470 `WWW-Authenticate` challenge
(`error="insufficient_user_authentication"`, `max_age`), `step_up` and `sign_in_url`.

**Durations** use the policy notation (`30m`, `4h`, `7d`) or ISO 8601 (`PT30M`).
"""


class _NotServed:
    """Stands in for the service's parts: the document is built, never served."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"the OpenAPI builder has no {name}")


class _NoSettings:
    service_tokens = ()
    admin_groups = ()
    login_url = "https://countersign.example.com/login"
    public_url = "https://countersign.example.com"


def document() -> dict[str, Any]:
    """The OpenAPI document."""
    unused: Any = _NotServed()
    settings: Any = _NoSettings()
    app = FastAPI(title=TITLE, version=VERSION, description=DESCRIPTION)
    app.include_router(
        api_v1_router(
            approvals=unused,
            policies=unused,
            policy_status=unused,
            identify=unused,
            signals=unused,
            access=settings,
            server=settings,
            read_audit=unused,
            emergency=unused,
        )
    )
    app.include_router(documented_router())
    return as_reusable_parameter(_problems_only(app.openapi()))


def _problems_only(doc: dict[str, Any]) -> dict[str, Any]:
    # FastAPI lists a route's own media type (application/json) for its error responses too;
    # errors are only ever application/problem+json.
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if int(status) >= 400 and MEDIA_TYPE in content:
                    content.pop("application/json", None)
    return doc


def render() -> str:
    """The document as the text checked in."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
