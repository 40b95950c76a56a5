"""Prometheus metrics for one process (each worker exposes its own)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from app.adapters.observability.decision_metrics import DecisionCounts
from app.core.decision import Decision, Effect
from app.core.reasons import Reason

#: Denies that mean "Countersign could not decide", not "the policy said no": alerted on.
DECISION_ERRORS = (Reason.INTERNAL_ERROR, Reason.GRANT_STATE_UNAVAILABLE)


class Metrics:
    """Implements services.ports.DecisionObserver and the other counters the service keeps."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decision_counts = DecisionCounts()
        self.registry.register(self.decision_counts)
        self.decision_errors = Counter(
            "countersign_decision_errors_total",
            "Decisions that failed closed (internal-error, grant-state-unavailable) by reason",
            ["reason"],
            registry=self.registry,
        )
        for reason in DECISION_ERRORS:  # present at 0 from the start, so rate() sees the rise
            self.decision_errors.labels(reason.value)
        self.redis_errors = Counter(
            "countersign_redis_errors_total",
            "Grant store calls that failed or timed out",
            registry=self.registry,
        )
        self.jwks_refreshes = Counter(
            "countersign_jwks_refreshes_total",
            "JWKS fetches by issuer and outcome",
            ["issuer", "outcome"],
            registry=self.registry,
        )
        self.policy_reloads = Counter(
            "countersign_policy_reloads_total",
            "Policy reloads by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.policy_ok = Gauge(
            "countersign_policy_last_reload_ok",
            "1 when the last policy load succeeded",
            registry=self.registry,
        )
        self.notifications = Counter(
            "countersign_notifications_total",
            "Notification deliveries by channel and outcome (sent, failed, dead_lettered)",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.outbox_state_gauge = Gauge(
            "countersign_notify_outbox_state",
            "1 for the state the notifiers' outbox group is in (ok, recovering, gap)",
            ["state"],
            registry=self.registry,
        )
        self.outbox_recoveries = Counter(
            "countersign_notify_outbox_recoveries_total",
            "Times this process recreated the lost outbox stream or consumer group",
            registry=self.registry,
        )
        self.outbox_gaps = Counter(
            "countersign_notify_outbox_gaps_total",
            "Times this process found outbox entries gone before the notifiers read them",
            registry=self.registry,
        )
        self.pending = Gauge(
            "countersign_requests_pending",
            "Access requests waiting for a review, by application (read from Redis at scrape)",
            ["application"],
            registry=self.registry,
        )
        self.pending_expiring = Gauge(
            "countersign_requests_pending_expiring",
            "Pending requests that run out within NOTIFY_EXPIRY_WARNING, by application",
            ["application"],
            registry=self.registry,
        )
        self.grants_active = Gauge(
            "countersign_grants_active",
            "Approval grants in force, by application (read from Redis at scrape)",
            ["application"],
            registry=self.registry,
        )
        self.audit_sink_entries = Counter(
            "countersign_audit_sink_delivered_total",
            "Audit entries a sink acknowledged, by sink (this replica's deliveries)",
            ["sink"],
            registry=self.registry,
        )
        self.audit_sink_failures = Counter(
            "countersign_audit_sink_failures_total",
            "Failed deliveries to an audit sink, by sink (retried from the same entry)",
            ["sink"],
            registry=self.registry,
        )
        self.audit_sink_gaps = Counter(
            "countersign_audit_sink_gaps_total",
            "Times a sink's next entries were gone from the log before it had them",
            ["sink"],
            registry=self.registry,
        )
        self.audit_sink_backlog = Gauge(
            "countersign_audit_sink_backlog",
            "Audit entries not yet acknowledged by the sink (read from Redis at scrape)",
            ["sink"],
            registry=self.registry,
        )
        self.audit_sink_lag = Gauge(
            "countersign_audit_sink_lag_seconds",
            "Age of the oldest audit entry the sink has not acknowledged (0: none waits)",
            ["sink"],
            registry=self.registry,
        )
        self.break_glass_unreviewed = Gauge(
            "countersign_break_glass_unreviewed",
            "Break-glass uses awaiting their after-the-fact review (read from Redis at scrape)",
            registry=self.registry,
        )
        self.break_glass_overdue = Gauge(
            "countersign_break_glass_review_overdue",
            "Break-glass uses past review_within without a review (read from Redis at scrape)",
            registry=self.registry,
        )

    def decided(self, decision: Decision, *, seconds: float) -> None:
        """Count one decision (plain integers: see decision_metrics)."""
        self.decision_counts.count(decision.effect.value, decision.application or "", seconds)
        if decision.effect is Effect.DENY:
            for reason in decision.reasons:
                if reason in DECISION_ERRORS:
                    self.decision_errors.labels(reason.value).inc()

    def store_failed(self) -> None:
        """Count a failed grant store call."""
        self.redis_errors.inc()

    def jwks_refreshed(self, issuer: str, ok: bool) -> None:
        """Count a JWKS fetch."""
        self.jwks_refreshes.labels(issuer, "ok" if ok else "error").inc()

    def policy_reloaded(self, ok: bool) -> None:
        """Count a policy reload and expose whether the last one worked."""
        self.policy_reloads.labels("ok" if ok else "error").inc()
        self.policy_ok.set(1 if ok else 0)

    def notified(self, channel: str, outcome: str) -> None:
        """Count one delivery try of a notification: sent, failed (retried) or dead_lettered."""
        self.notifications.labels(channel, outcome).inc()

    def outbox_state(self, state: str) -> None:
        """Expose the outbox group's state (ok, recovering, gap): 1 for it, 0 for the others."""
        for known in ("ok", "recovering", "gap"):
            self.outbox_state_gauge.labels(known).set(1 if known == state else 0)

    def outbox_rejoined(self) -> None:
        """Count a recreation of the lost outbox stream or group."""
        self.outbox_recoveries.inc()

    def outbox_gap(self) -> None:
        """Count outbox entries found gone before they were read."""
        self.outbox_gaps.inc()

    def open_work(
        self,
        applications: Iterable[str],
        *,
        pending: Mapping[str, int],
        expiring: Mapping[str, int],
        active_grants: Mapping[str, int],
    ) -> None:
        """Set the open-work gauges: every application of the policy set (0 when it has
        none), and no series for applications gone from it."""
        apps = set(applications) | set(pending) | set(active_grants)
        for gauge, counts in (
            (self.pending, pending),
            (self.pending_expiring, expiring),
            (self.grants_active, active_grants),
        ):
            gauge.clear()
            for app in sorted(apps):
                gauge.labels(app).set(counts.get(app, 0))

    def break_glass_reviews(self, *, waiting: int, overdue: int) -> None:
        """Set the break-glass review gauges (the same on every replica: read from Redis)."""
        self.break_glass_unreviewed.set(waiting)
        self.break_glass_overdue.set(overdue)

    def audit_sink_delivered(self, sink: str, entries: int) -> None:
        """Count audit entries a sink acknowledged."""
        self.audit_sink_entries.labels(sink).inc(entries)

    def audit_sink_failed(self, sink: str) -> None:
        """Count a failed delivery to an audit sink."""
        self.audit_sink_failures.labels(sink).inc()

    def audit_sink_gap(self, sink: str) -> None:
        """Count entries found gone before a sink had them."""
        self.audit_sink_gaps.labels(sink).inc()

    def audit_sink_progress(self, sink: str, *, backlog: int, lag: float) -> None:
        """Set a sink's backlog and lag gauges."""
        self.audit_sink_backlog.labels(sink).set(backlog)
        self.audit_sink_lag.labels(sink).set(lag)

    def watch_grant_cache(self, counts: GrantCacheCounts) -> None:
        """Expose the grant cache's counts, read at each scrape (the hot path only adds 1)."""
        self.registry.register(_GrantCacheCollector(counts))

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


class GrantCacheCounts(Protocol):
    """What the grant cache counts (app.adapters.store.grant_cache.CacheCounts)."""

    hits: int
    misses: int
    invalidations: int
    lost: int
    redis_flushes: int
    live: bool
    entries: int


class _GrantCacheCollector:
    """The grant cache's series, built from its plain counters at scrape time."""

    def __init__(self, counts: GrantCacheCounts) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        counts = self._counts
        prefix = "countersign_grant_cache"
        yield CounterMetricFamily(
            f"{prefix}_hits", "Grant reads answered from memory", value=counts.hits
        )
        yield CounterMetricFamily(
            f"{prefix}_misses",
            "Grant reads that went to Redis (not cached, or the cache not usable)",
            value=counts.misses,
        )
        yield CounterMetricFamily(
            f"{prefix}_invalidations",
            "Access keys Redis reported changed to this process",
            value=counts.invalidations,
        )
        flushes = CounterMetricFamily(
            f"{prefix}_flushes",
            "Whole-cache flushes: the invalidation channel was lost, or Redis was flushed",
            labels=["reason"],
        )
        flushes.add_metric(["channel_lost"], counts.lost)
        flushes.add_metric(["redis_flushed"], counts.redis_flushes)
        yield flushes
        yield GaugeMetricFamily(
            f"{prefix}_channel_up",
            "1 while the invalidation channel is confirmed and reads may be answered from memory",
            value=1 if counts.live else 0,
        )
        yield GaugeMetricFamily(
            f"{prefix}_entries", "Grant answers held in memory", value=counts.entries
        )
