"""The /api/v1 router: every endpoint, its authentication, the Idempotency-Key of the
state-changing ones, and problem+json errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter

from app.adapters.api.v1.admin_routes import ReadAudit, add_admin_routes
from app.adapters.api.v1.auth import ServiceTokens, authenticator
from app.adapters.api.v1.break_glass_routes import add_break_glass_routes
from app.adapters.api.v1.extensions_routes import add_extension_routes
from app.adapters.api.v1.grants_routes import add_grant_routes
from app.adapters.api.v1.idempotency import IdempotencyStore, idempotency_guard
from app.adapters.api.v1.impact_routes import add_impact_routes
from app.adapters.api.v1.requests_routes import add_request_routes
from app.adapters.api.v1.routing import ProblemRoute, add_fallback
from app.adapters.api.v1.sessions_routes import EndSessions, add_session_routes
from app.adapters.step_up import StepUpLinks
from app.config.settings import AccessSettings, ServerSettings
from app.core.policy.policy_set import PolicySet
from app.services.approvals import ApprovalService
from app.services.emergency import EmergencyService
from app.services.policy_repository import PolicyStatus
from app.services.ports import Identify, ReadSignals

PREFIX = "/api/v1"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def api_v1_router(
    *,
    approvals: ApprovalService,
    policies: Callable[[], PolicySet],
    policy_status: Callable[[], PolicyStatus],
    identify: Identify,
    signals: ReadSignals,
    access: AccessSettings,
    server: ServerSettings,
    read_audit: ReadAudit,
    clock: Callable[[], datetime] = _utc_now,
    end_sessions: EndSessions | None = None,
    idempotency: IdempotencyStore | None = None,
    decision_capture: Path | None = None,
    emergency: EmergencyService | None = None,
) -> APIRouter:
    """Build the router; every dependency is passed in. Client IPs are read by `signals`,
    which believes X-Forwarded-For only from TRUSTED_PROXIES, as on the forward-auth path.
    Without an `idempotency` store, a call that sends an Idempotency-Key is refused (503):
    it never runs unprotected."""
    router = APIRouter(prefix=PREFIX, route_class=ProblemRoute)
    authenticate = authenticator(
        identify=identify,
        tokens=ServiceTokens(access.service_tokens),
        admin_groups=access.admin_groups,
    )
    idempotent = idempotency_guard(store=idempotency, authenticate=authenticate)
    add_request_routes(
        router,
        approvals=approvals,
        policies=policies,
        signals=signals,
        authenticate=authenticate,
        idempotent=idempotent,
        step_up=StepUpLinks(login_url=server.login_url, public_url=server.public_url),
    )
    add_grant_routes(router, approvals=approvals, authenticate=authenticate, idempotent=idempotent)
    add_extension_routes(
        router,
        approvals=approvals,
        policies=policies,
        signals=signals,
        authenticate=authenticate,
        idempotent=idempotent,
    )
    if emergency is not None:
        add_break_glass_routes(
            router,
            emergency=emergency,
            policies=policies,
            signals=signals,
            authenticate=authenticate,
            idempotent=idempotent,
        )
    add_admin_routes(
        router,
        policies=policies,
        policy_status=policy_status,
        read_audit=read_audit,
        clock=clock,
        authenticate=authenticate,
        idempotent=idempotent,
    )
    add_impact_routes(
        router,
        policies=policies,
        capture=decision_capture,
        authenticate=authenticate,
        idempotent=idempotent,
    )
    add_session_routes(
        router, end_sessions=end_sessions, authenticate=authenticate, idempotent=idempotent
    )
    add_fallback(router)
    return router
