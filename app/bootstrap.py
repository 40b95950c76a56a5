"""Wiring: build every adapter and service from Settings, once per process."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI

from app import __version__
from app.adapters.api.ops import ops_router
from app.adapters.api.v1.router import api_v1_router
from app.adapters.forward_auth.assertion import Assertions
from app.adapters.forward_auth.deny_page import DenyPage
from app.adapters.forward_auth.answers import Targets
from app.adapters.forward_auth.handler import ForwardAuth
from app.adapters.identity.authenticate import Authenticator
from app.adapters.identity.verifier import JwtVerifier
from app.adapters.notify.service import build_notifier
from app.adapters.observability.logs import configure_logging
from app.adapters.observability.metrics import Metrics
from app.adapters.sessions.keys import keys_from_settings
from app.adapters.sessions.manager import CookiePolicy, SessionManager
from app.adapters.sessions.revocations import SessionRevocations
from app.adapters.sessions.routes import jwks_router
from app.adapters.sessions.tokens import trusted_session_issuer
from app.adapters.signals.reader import SignalReader
from app.adapters.signin.flows import SignInFlows
from app.adapters.signin.relying_party import RelyingParty
from app.adapters.signin.routes import signin_router
from app.adapters.store import audit
from app.adapters.store.connection import connect_for
from app.adapters.store.durability import DurableWrites, refusal
from app.adapters.store.gauges import open_work
from app.adapters.store.idempotency import RedisIdempotency
from app.adapters.store.keys import RedisIndexes
from app.adapters.store.redis_grants import RedisGrantReader
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.adapters.store.retention import Retention
from app.adapters.ui.router import ui_router
from app.config import Settings, SettingsError, load_settings
from app.core.paths import HostError, normalize_host
from app.core.policy.errors import PolicyCompileError
from app.core.redirects import is_safe_redirect
from app.services.approvals import ApprovalService
from app.services.decide import DecisionService
from app.services.policy_files import PolicyDirectoryError
from app.services.policy_repository import PolicyRepository
from app.web import CountersignApp

log = structlog.get_logger("countersign")


def utc_now() -> datetime:
    """The service's clock (the core never reads one)."""
    return datetime.now(UTC)


def public_host(settings: Settings) -> str:
    """The host part of PUBLIC_URL, normalised."""
    netloc = settings.public_url.split("://", 1)[1].split("/", 1)[0]
    try:
        return normalize_host(netloc)
    except HostError:
        return netloc.lower()


def prepare_process(settings: Settings) -> str | None:
    """Checks and one-time set-up done by `serve` before workers start; a problem or None."""
    repository = PolicyRepository(Path(settings.policy_dir))
    try:
        repository.load()
    except PolicyCompileError as exc:
        lines = "\n".join(str(e) for e in exc.errors)
        return f"the policy set in {settings.policy_dir} is invalid:\n{lines}"
    except PolicyDirectoryError as exc:
        return f"cannot load policies: {exc} (COUNTERSIGN_POLICY_DIR)"
    except (OSError, ValueError) as exc:
        return f"cannot load policies from {settings.policy_dir}: {exc}"
    if not settings.dev and not settings.issuers and settings.oidc is None:
        return (
            "nobody could sign in: set COUNTERSIGN_OIDC_ISSUER (sign-in through your provider) "
            "or COUNTERSIGN_ISSUER with COUNTERSIGN_JWKS_URL (tokens from an identity proxy), "
            "or COUNTERSIGN_DEV=1 to try Countersign out"
        )
    if settings.dev:
        from app.adapters.dev.issuer import DevIssuer  # noqa: PLC0415  (dev only)

        # Dev keys persist across restarts: tokens and sessions of an earlier run still work.
        DevIssuer.load_or_create(Path(settings.data_dir), public_url=settings.public_url)
    try:
        keys_from_settings(settings)  # made once here (dev), before workers race to make it
    except SettingsError as exc:
        return str(exc)
    return asyncio.run(durability_refusal(settings))


async def durability_refusal(settings: Settings) -> str | None:
    """Why Redis cannot give COUNTERSIGN_DURABILITY (stops `serve` with that line), or None;
    None too when Redis does not answer yet: the service starts and keeps checking."""
    if settings.redis_url is None:
        return None
    redis = connect_for(settings)
    try:
        wait = settings.durability_timeout + settings.redis_timeout * 4
        return await refusal(redis, settings.durability, within=wait.total_seconds())
    finally:
        await redis.aclose()


def session_issuer(settings: Settings) -> str:
    """The `iss` of Countersign's own sessions: PUBLIC_URL."""
    return settings.public_url.rstrip("/")


def build(settings: Settings) -> CountersignApp:  # noqa: PLR0915  (wiring: one line per part)
    """The whole service for one process."""
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    if settings.redis_url is None:
        raise SettingsError(
            (
                "COUNTERSIGN_REDIS_URL",
                "is unset; start with `countersign serve`, which runs an embedded server",
            )
        )
    metrics = Metrics()
    repository = PolicyRepository(Path(settings.policy_dir), on_reload=metrics.policy_reloaded)
    repository.load()
    metrics.policy_reloaded(True)
    redis = connect_for(settings)
    # Countersign's own signing keys (sessions, per-application assertions), or None: sessions off.
    signer = keys_from_settings(settings)
    extra = []
    if signer is not None:
        if any(config.issuer == session_issuer(settings) for config in settings.issuers):
            raise SettingsError(
                ("COUNTERSIGN_PUBLIC_URL", "is also a configured issuer; sessions need it alone")
            )
        extra.append(trusted_session_issuer(signer, issuer=session_issuer(settings)))
    if settings.dev:
        from app.adapters.dev.issuer import DevIssuer  # noqa: PLC0415
        from app.adapters.dev.login import dev_router as make_dev_router  # noqa: PLC0415

        issuer = DevIssuer.load_or_create(Path(settings.data_dir), public_url=settings.public_url)
        extra.append(issuer.trusted_issuer(settings.claims))
    verifier = JwtVerifier.from_settings(
        settings, extra_issuers=extra, on_jwks_refresh=metrics.jwks_refreshed
    )
    revocations = SessionRevocations(redis)
    sessions = None
    if signer is not None:
        sessions = SessionManager(
            keys=signer,
            revocations=revocations,
            issuer=session_issuer(settings),
            cookie=CookiePolicy.from_settings(settings),
            ttl=settings.session_ttl,
            leeway=settings.jwt_leeway.total_seconds(),
            verify=verifier.verify,
        )
    relying_party = None
    if settings.oidc is not None:  # keys_from_settings refused OIDC without a session key
        relying_party = RelyingParty.build(
            settings.oidc,
            public_url=settings.public_url,
            claims=settings.claims,
            leeway=settings.jwt_leeway.total_seconds(),
            jwks_cache_ttl=settings.jwks_cache_ttl.total_seconds(),
            jwks_refresh_interval=settings.jwks_refresh_interval.total_seconds(),
            on_jwks_refresh=metrics.jwks_refreshed,
        )
    signals = SignalReader.from_settings(settings)
    trusted = signals.trusted
    durable = DurableWrites(
        redis,
        settings.durability,
        timeout=settings.durability_timeout.total_seconds(),
        redis_timeout=settings.redis_timeout.total_seconds(),
    )
    workflow = RedisWorkflowStore(
        redis,
        retention=settings.request_retention,
        durability=durable,
        redis_timeout=settings.redis_timeout.total_seconds(),
    )
    approvals = ApprovalService(
        policies=lambda: repository.current, store=workflow, indexes=RedisIndexes(), clock=utc_now
    )
    notifier = build_notifier(
        settings, policies=lambda: repository.current, clock=utc_now, observer=metrics
    )
    decisions = DecisionService(
        policies=lambda: repository.current,
        grants=RedisGrantReader(redis),
        clock=utc_now,
        observer=metrics,
        store_timeout=settings.redis_timeout.total_seconds() * 2,
    )
    ours = public_host(settings)

    def safe(url: str) -> bool:
        return is_safe_redirect(url, policy_set=repository.current, public_host=ours)

    forward_auth = ForwardAuth(
        decisions=decisions,
        identify=Authenticator.from_settings(verifier, settings, sessions=sessions),
        signals=signals,
        is_trusted_peer=trusted.is_trusted,
        targets=Targets(
            settings.login_url,
            settings.public_url.rstrip("/") + "/request",
            session_cookie=settings.cookie_name,
        ),
        # X-Countersign-Assertion on allow answers, signed with the session keys (none without).
        assertions=None
        if signer is None
        else Assertions(signer, issuer=session_issuer(settings), ttl=settings.assertion_ttl),
        # Denied browsers get the refusal page (why, and whom to ask) instead of a bare 403.
        deny_page=DenyPage(
            policies=lambda: repository.current,
            public_url=settings.public_url,
            login_url=settings.login_url,
        ),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.dev:
            log.warning(
                "dev_mode_enabled",
                message="DEV MODE: a built-in issuer mints tokens for anyone who asks. "
                "Never expose this instance.",
            )
        # One line and no start when Redis cannot give COUNTERSIGN_DURABILITY; checked again
        # every few seconds (Redis down at start, AOF turned off, replicas gone).
        await durable.start(settings.redis_timeout.total_seconds() * 4)
        checking = asyncio.create_task(durable.watch())
        sweeper = asyncio.create_task(
            sweep_forever(
                approvals,
                Retention(
                    redis, records=settings.request_retention, audit_log=settings.audit_retention
                ),
                settings.sweep_interval.total_seconds(),
            )
        )
        watcher = None
        following = asyncio.create_task(revocations.run()) if sessions is not None else None
        if notifier is not None:
            notifier.start()
        if settings.policy_reload:
            watcher = asyncio.create_task(
                repository.watch(settings.policy_reload_interval.total_seconds())
            )
        await verifier.warm()
        if relying_party is not None:
            await relying_party.warm()
        await report_unreachable_store(redis, settings.redis_timeout.total_seconds() * 4)
        # Everything built so far lives as long as the process: keep it out of the garbage
        # collector's way, so collections triggered by requests scan only request garbage.
        gc.collect()
        gc.freeze()
        log.info(
            "service_started",
            pid=os.getpid(),
            applications=repository.status.applications,
            issuers=list(verifier.issuers),
        )
        try:
            yield
        finally:
            for task in (watcher, sweeper, following, checking):
                if task is not None:
                    task.cancel()
                    if task is following:
                        await revocations.interrupt()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await verifier.aclose()
            if relying_party is not None:
                await relying_party.aclose()
            if notifier is not None:
                await notifier.aclose()
            await redis.aclose()
            signals.close()

    async def refresh_gauges() -> None:
        applications = list(repository.current.applications)
        work = await open_work(
            redis, applications, now=utc_now(), soon=settings.notify_expiry_warning
        )
        metrics.open_work(
            applications,
            pending=work.pending,
            expiring=work.expiring,
            active_grants=work.active_grants,
        )

    api = FastAPI(
        title="Countersign",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    api.include_router(
        ops_router(
            policy_status=lambda: repository.status,
            redis_ping=redis.ping,
            metrics=metrics.render,
            refresh_gauges=refresh_gauges,
            redis_timeout=settings.redis_timeout.total_seconds(),
            key_status=lambda: {
                **verifier.key_status(),
                **(relying_party.key_status() if relying_party is not None else {}),
            },
            notifications=notifier.worker.status if notifier is not None else None,
            durability=durable.status,
        )
    )
    api.include_router(
        api_v1_router(
            approvals=approvals,
            policies=lambda: repository.current,
            policy_status=lambda: repository.status,
            identify=Authenticator.from_settings(verifier, settings, sessions=sessions),
            signals=signals,
            settings=settings,
            read_audit=lambda query: audit.read_page(redis, query),
            clock=utc_now,
            end_sessions=(
                None if sessions is None else lambda who, actor: sessions.end_all(who, actor=actor)
            ),
            idempotency=RedisIdempotency(redis, ttl=settings.idempotency_ttl),
        )
    )
    if signer is not None:
        api.include_router(jwks_router(signer))
    api.include_router(
        signin_router(
            settings=settings,
            sessions=sessions,
            relying_party=relying_party,
            flows=SignInFlows(redis) if relying_party is not None else None,
            identify=Authenticator.from_settings(verifier, settings, sessions=sessions),
            is_safe_redirect=safe,
        )
    )
    if settings.dev:
        assert sessions is not None  # dev mode always has a session key
        api.include_router(
            make_dev_router(
                issuer=issuer, settings=settings, is_safe_redirect=safe, sessions=sessions
            )
        )
    api.include_router(
        ui_router(
            settings=settings,
            approvals=approvals,
            policies=lambda: repository.current,
            identify=Authenticator.from_settings(verifier, settings, sessions=sessions),
            signals=signals,
            is_safe_redirect=safe,
            clock=utc_now,
        )
    )
    return CountersignApp(forward_auth=forward_auth, api=api)


async def report_unreachable_store(redis: Any, wait: float) -> None:
    """Say at start, in one line, that Redis does not answer: the service starts anyway and
    `/readyz` stays not ready until it does (checks that need it answer 503 meanwhile)."""
    try:
        async with asyncio.timeout(wait):
            await redis.ping()
    except Exception as exc:  # any failure is the same report
        log.warning(
            "redis_unreachable",
            problem=str(exc)[:200] or type(exc).__name__,
            message="Redis does not answer; /readyz reports not ready until it does",
        )


async def sweep_forever(approvals: ApprovalService, retention: Retention, interval: float) -> None:
    """Expire due requests and grants on every replica (transitions are idempotent), and trim
    indexes and the audit log past retention (bounded steps, also safe on every replica).
    Errors are logged and the loop goes on."""
    while True:
        await asyncio.sleep(interval)
        try:
            requests, grants = await approvals.sweep()
            await retention.trim(utc_now())
            if requests or grants:
                log.info("sweep_expired", requests=requests, grants=grants)
        except Exception as exc:  # Redis down: try again next tick
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # redis-py may turn our cancellation into a ConnectionError
            log.warning("sweep_failed", problem=str(exc)[:200])


def build_from_environment(environ: Mapping[str, str] | None = None) -> CountersignApp:
    """uvicorn's factory entry point: settings from the environment, then `build`."""
    return build(load_settings(os.environ if environ is None else environ))
