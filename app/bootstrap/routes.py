"""The FastAPI application of one process: operations endpoints, the REST API, the session
keys, sign-in, the dev login (dev mode only) and the pages, each router built from the parts
and the settings groups it reads."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI

from app import __version__
from app.adapters.api.ops import ops_router
from app.adapters.api.v1.router import api_v1_router
from app.adapters.audit_sinks.service import progress
from app.adapters.sessions.routes import jwks_router
from app.adapters.signin.flows import SignInFlows
from app.adapters.signin.routes import signin_router
from app.adapters.slack.routes import slack_router
from app.adapters.step_up import StepUpLinks
from app.adapters.store import audit
from app.adapters.store.gauges import open_work
from app.adapters.store.idempotency import RedisIdempotency
from app.adapters.ui.router import ui_router
from app.bootstrap.emergency import emergency_of
from app.bootstrap.lifespan import Lifespan
from app.bootstrap.parts import Parts, utc_now


def api_app(parts: Parts, *, lifespan: Lifespan, safe: Callable[[str], bool]) -> FastAPI:
    """Every route but forward-auth; `safe` tells a redirect target Countersign may send to."""
    api = FastAPI(
        title="Countersign",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    api.include_router(_ops(parts))
    api.include_router(_api_v1(parts))
    if parts.signer is not None:
        api.include_router(jwks_router(parts.signer))
    api.include_router(_signin(parts, safe))
    if parts.dev_issuer is not None:
        api.include_router(_dev_login(parts, safe))
    settings = parts.settings
    if settings.slack.enabled:
        links = StepUpLinks(
            login_url=settings.server.login_url, public_url=settings.server.public_url
        )
        api.include_router(
            slack_router(
                settings.slack, approvals=parts.approvals, policies=parts.policies, links=links
            )
        )
    api.include_router(
        ui_router(
            server=settings.server,
            identity=settings.identity,
            access=settings.access,
            approvals=parts.approvals,
            policies=parts.policies,
            identify=parts.authenticator(),
            signals=parts.signals,
            is_safe_redirect=safe,
            clock=utc_now,
            emergency=emergency_of(parts),
        )
    )
    return api


def _ops(parts: Parts) -> APIRouter:
    """/healthz, /readyz and /metrics (with the open-work gauges read at each scrape)."""
    redis, metrics, repository = parts.redis, parts.metrics, parts.repository
    soon = parts.settings.notify.expiry_warning
    emergency = emergency_of(parts)

    async def refresh_gauges() -> None:
        applications = list(repository.current.applications)
        work = await open_work(redis, applications, now=utc_now(), soon=soon)
        metrics.open_work(
            applications,
            pending=work.pending,
            expiring=work.expiring,
            active_grants=work.active_grants,
        )
        waiting, overdue = await emergency.counts()
        metrics.break_glass_reviews(waiting=waiting, overdue=overdue)
        sinks = parts.settings.audit_stream.sinks
        for sink, seen in (await progress(redis, sinks, now=utc_now)).items():
            metrics.audit_sink_progress(sink, backlog=seen.backlog, lag=seen.lag)

    relying_party, notifier = parts.relying_party, parts.notifier
    return ops_router(
        policy_status=lambda: repository.status,
        redis_ping=redis.ping,
        metrics=metrics.render,
        refresh_gauges=refresh_gauges,
        redis_timeout=parts.settings.redis.timeout.total_seconds(),
        key_status=lambda: {
            **parts.verifier.key_status(),
            **(relying_party.key_status() if relying_party is not None else {}),
        },
        notifications=notifier.worker.status if notifier is not None else None,
        durability=parts.durable.status,
    )


def _api_v1(parts: Parts) -> APIRouter:
    sessions, redis = parts.sessions, parts.redis
    return api_v1_router(
        approvals=parts.approvals,
        policies=parts.policies,
        policy_status=lambda: parts.repository.status,
        identify=parts.authenticator(),
        signals=parts.signals,
        access=parts.settings.access,
        server=parts.settings.server,
        read_audit=lambda query: audit.read_page(redis, query),
        clock=utc_now,
        end_sessions=(
            None if sessions is None else lambda who, actor: sessions.end_all(who, actor=actor)
        ),
        idempotency=RedisIdempotency(redis, ttl=parts.settings.retention.idempotency_ttl),
        decision_capture=parts.settings.decisions.capture,
        emergency=emergency_of(parts),
    )


def _signin(parts: Parts, safe: Callable[[str], bool]) -> APIRouter:
    settings = parts.settings
    return signin_router(
        server=settings.server,
        identity=settings.identity,
        access=settings.access,
        dev=settings.dev,
        sessions=parts.sessions,
        relying_party=parts.relying_party,
        flows=SignInFlows(parts.redis) if parts.relying_party is not None else None,
        identify=parts.authenticator(),
        is_safe_redirect=safe,
    )


def _dev_login(parts: Parts, safe: Callable[[str], bool]) -> APIRouter:
    """The dev login; dev mode always has a session key, hence sessions."""
    from app.adapters.dev.login import dev_router  # noqa: PLC0415  (dev only)

    if parts.dev_issuer is None or parts.sessions is None:
        raise RuntimeError("the dev login needs dev mode and its session key")
    settings = parts.settings
    return dev_router(
        issuer=parts.dev_issuer,
        server=settings.server,
        dev=settings.dev,
        claims=settings.identity.claims,
        is_safe_redirect=safe,
        sessions=parts.sessions,
    )
