"""`countersign_audit_append_failures_total{type}`: audit events this process could not write
when it tried (policy loads and reloads; they are kept and written again). Alerted on: while it
rises, the audit log is missing what this replica did."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter

from app.core.approvals.events import EventType

#: The kinds written outside a workflow transition, present at 0 so that rate() sees a rise.
KINDS = (EventType.POLICY_LOADED, EventType.POLICY_RELOADED, EventType.POLICY_RELOAD_REJECTED)


class AuditFailures:
    """The counter, on the process's metrics registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.counter = Counter(
            "countersign_audit_append_failures_total",
            "Audit events not written when first tried (kept and retried), by event type",
            ["type"],
            registry=registry,
        )
        for kind in KINDS:
            self.counter.labels(kind.value)

    def failed(self, kinds: Sequence[str]) -> None:
        """Count one failed write of events of these types."""
        for kind in kinds:
            self.counter.labels(kind).inc()
