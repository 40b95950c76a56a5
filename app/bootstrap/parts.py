"""The parts of one process (stores, verifier, sessions, signals, services), each built from
its own group of Settings. The forward-auth handler, the routes and the lifespan are made from
these parts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.adapters.audit_sinks.service import AuditStreamer, build_streamer
from app.adapters.forward_auth.memo import DecisionMemo, MemoCollector
from app.adapters.identity.authenticate import Authenticator
from app.adapters.identity.verifier import JwtVerifier, TrustedIssuer
from app.adapters.notify.service import Notifier, build_notifier
from app.adapters.observability.audit_failures import AuditFailures
from app.adapters.observability.metrics import Metrics
from app.adapters.sessions.keys import SessionKeys
from app.adapters.sessions.manager import CookiePolicy, SessionManager
from app.adapters.sessions.revocations import SessionRevocations
from app.adapters.sessions.tokens import trusted_session_issuer
from app.adapters.signals.reader import SignalReader
from app.adapters.signin.relying_party import RelyingParty
from app.adapters.store.checkpoints import Checkpointer
from app.adapters.store.connection import connect_for
from app.adapters.store.durability import DurableWrites
from app.adapters.store.grant_cache import CachedGrants
from app.adapters.store.listing import RedisListings
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.bootstrap.checks import session_issuer, session_keys
from app.config import Settings, SettingsError
from app.core.policy.policy_set import PolicySet
from app.services.approvals import ApprovalService
from app.services.decide import DecisionService
from app.services.policy_repository import PolicyRepository

if TYPE_CHECKING:
    from app.adapters.dev.issuer import DevIssuer


def utc_now() -> datetime:
    """The service's clock (the core never reads one)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Parts:
    """Everything `build` wires together, for one process."""

    settings: Settings
    metrics: Metrics
    repository: PolicyRepository
    redis: Any
    #: Countersign's own signing keys; None: sessions off.
    signer: SessionKeys | None
    verifier: JwtVerifier
    revocations: SessionRevocations
    sessions: SessionManager | None
    relying_party: RelyingParty | None
    signals: SignalReader
    durable: DurableWrites
    workflow: RedisWorkflowStore
    approvals: ApprovalService
    notifier: Notifier | None
    #: Delivers the audit log to the configured sinks; None without sinks (docs/adr/0014).
    streamer: AuditStreamer | None
    #: Grant reads from memory, kept exact by Redis's invalidation pushes (docs/adr/0011).
    grant_cache: CachedGrants
    decisions: DecisionService
    #: Forward-auth decisions reused while they provably hold (docs/adr/0012); None: off.
    memo: DecisionMemo | None
    #: The built-in issuer of dev mode; None outside it.
    dev_issuer: DevIssuer | None
    #: Signs audit checkpoints (docs/adr/0018); None: COUNTERSIGN_AUDIT_CHECKPOINT_KEY_FILE unset.
    checkpointer: Checkpointer | None

    @property
    def policies(self) -> Callable[[], PolicySet]:
        """The policy set in force now (it changes on reload)."""
        return lambda: self.repository.current

    def authenticator(self) -> Authenticator:
        """Token sources as configured, with Countersign's own sessions."""
        return Authenticator.from_settings(
            self.verifier, self.settings.identity, sessions=self.sessions
        )


def build_parts(settings: Settings) -> Parts:
    """Load the policies and build every part; raises SettingsError for a bad combination."""
    if settings.redis.url is None:
        raise SettingsError(
            (
                "COUNTERSIGN_REDIS_URL",
                "is unset; start with `countersign serve`, which runs an embedded server",
            )
        )
    metrics = Metrics()
    repository = PolicyRepository(
        Path(settings.policy.dir),
        on_reload=metrics.policy_reloaded,
        on_audit_failure=AuditFailures(metrics.registry).failed,
    )
    repository.load()
    metrics.policy_reloaded(True)
    redis = connect_for(settings.redis)
    signer = session_keys(settings)
    extra, dev_issuer = _extra_issuers(settings, signer)
    verifier = JwtVerifier.from_settings(
        settings.identity, extra_issuers=extra, on_jwks_refresh=metrics.jwks_refreshed
    )
    revocations = SessionRevocations(redis)
    durable = _durable_writes(settings, redis)
    workflow = RedisWorkflowStore(
        redis,
        retention=settings.retention.request_retention,
        durability=durable,
        redis_timeout=settings.redis.timeout.total_seconds(),
    )
    grant_cache = CachedGrants.over(
        redis, clock=utc_now, timeout=settings.redis.timeout.total_seconds() * 4
    )
    metrics.watch_grant_cache(grant_cache.cache.counts)
    return Parts(
        settings=settings,
        metrics=metrics,
        repository=repository,
        redis=redis,
        signer=signer,
        verifier=verifier,
        revocations=revocations,
        sessions=_sessions(settings, signer, revocations, verifier),
        relying_party=_relying_party(settings, metrics),
        signals=SignalReader.from_settings(settings.signals, identity=settings.identity),
        durable=durable,
        workflow=workflow,
        approvals=ApprovalService(
            policies=lambda: repository.current,
            store=workflow,
            listings=RedisListings(redis),
            clock=utc_now,
        ),
        notifier=build_notifier(
            settings.notify,
            redis=settings.redis,
            retention=settings.retention,
            public_url=settings.server.public_url,
            login_url=settings.server.login_url,
            policies=lambda: repository.current,
            clock=utc_now,
            observer=metrics,
        ),
        streamer=build_streamer(settings.audit_stream, redis=settings.redis, observer=metrics),
        grant_cache=grant_cache,
        decisions=DecisionService(
            policies=lambda: repository.current,
            grants=grant_cache.cache,
            memory=grant_cache.cache,
            clock=utc_now,
            observer=metrics,
            store_timeout=settings.redis.timeout.total_seconds() * 2,
        ),
        memo=_memo(settings, metrics, repository, grant_cache),
        dev_issuer=dev_issuer,
        checkpointer=Checkpointer.build(
            settings.audit_checkpoints,
            client=redis,
            durable=durable,
            data_dir=Path(settings.server.data_dir),
            redis_timeout=settings.redis.timeout.total_seconds(),
            clock=utc_now,
        ),
    )


def _memo(
    settings: Settings, metrics: Metrics, repository: PolicyRepository, grant_cache: CachedGrants
) -> DecisionMemo | None:
    """The decision memo over the same policies and grant cache as the decisions; None: off."""
    if settings.memo.size <= 0:
        return None
    memo = DecisionMemo(
        policies=lambda: repository.current,
        memory=grant_cache.cache,
        clock=utc_now,
        observer=metrics,
        size=settings.memo.size,
        max_age=settings.memo.max_age,
    )
    metrics.registry.register(MemoCollector(memo.counts))
    return memo


def _extra_issuers(
    settings: Settings, signer: SessionKeys | None
) -> tuple[list[TrustedIssuer], DevIssuer | None]:
    """Issuers besides the configured ones: Countersign's own sessions, and the dev issuer."""
    extra: list[TrustedIssuer] = []
    issuer = session_issuer(settings.server.public_url)
    if signer is not None:
        if any(config.issuer == issuer for config in settings.identity.issuers):
            raise SettingsError(
                ("COUNTERSIGN_PUBLIC_URL", "is also a configured issuer; sessions need it alone")
            )
        extra.append(trusted_session_issuer(signer, issuer=issuer))
    if not settings.dev.enabled:
        return extra, None
    from app.adapters.dev.issuer import DevIssuer  # noqa: PLC0415  (dev only)

    dev_issuer = DevIssuer.load_or_create(
        Path(settings.server.data_dir), public_url=settings.server.public_url
    )
    extra.append(dev_issuer.trusted_issuer(settings.identity.claims))
    return extra, dev_issuer


def _sessions(
    settings: Settings,
    signer: SessionKeys | None,
    revocations: SessionRevocations,
    verifier: JwtVerifier,
) -> SessionManager | None:
    if signer is None:
        return None
    return SessionManager(
        keys=signer,
        revocations=revocations,
        issuer=session_issuer(settings.server.public_url),
        cookie=CookiePolicy.from_settings(
            settings.sessions,
            name=settings.identity.cookie_name,
            secure=settings.server.public_is_https,
        ),
        ttl=settings.sessions.ttl,
        leeway=settings.identity.leeway.total_seconds(),
        verify=verifier.verify,
    )


def _relying_party(settings: Settings, metrics: Metrics) -> RelyingParty | None:
    if settings.signin is None:  # session_keys refused OIDC without a session key
        return None
    return RelyingParty.build(
        settings.signin,
        public_url=settings.server.public_url,
        claims=settings.identity.claims,
        leeway=settings.identity.leeway.total_seconds(),
        jwks_cache_ttl=settings.identity.jwks_cache_ttl.total_seconds(),
        jwks_refresh_interval=settings.identity.jwks_refresh_interval.total_seconds(),
        on_jwks_refresh=metrics.jwks_refreshed,
    )


def _durable_writes(settings: Settings, redis: Any) -> DurableWrites:
    return DurableWrites(
        redis,
        settings.redis.durability,
        timeout=settings.redis.durability_timeout.total_seconds(),
        redis_timeout=settings.redis.timeout.total_seconds(),
    )
