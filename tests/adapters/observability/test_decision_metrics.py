"""The decision series counted in plain integers read on /metrics as Prometheus's own would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.adapters.observability.decision_metrics import LATENCY_BUCKETS, DecisionCounts


def scrape(counts: DecisionCounts) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(counts)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_decisions_are_counted_by_effect_and_application() -> None:
    counts = DecisionCounts()
    for effect, app in [("allow", "grafana"), ("allow", "grafana"), ("deny", "")]:
        counts.count(effect, app, 0.0002)
    seen = scrape(counts)
    assert (
        seen["countersign_decisions_total", (("application", "grafana"), ("effect", "allow"))] == 2
    )
    assert seen["countersign_decisions_total", (("application", ""), ("effect", "deny"))] == 1


def test_latency_buckets_are_cumulative_and_a_bound_belongs_to_its_own_bucket() -> None:
    """A value equal to a bucket's upper bound counts in it (le), as in Prometheus."""
    counts = DecisionCounts()
    for seconds in (0.0001, 0.0003, 0.001, 7.0):
        counts.count("allow", "grafana", seconds)
    seen = scrape(counts)

    def bucket(le: str) -> float:
        return seen["countersign_decision_seconds_bucket", (("le", le),)]

    assert bucket("0.0001") == 1
    assert bucket("0.00025") == 1
    assert bucket("0.0005") == 2
    assert bucket("0.001") == 3
    assert bucket(str(LATENCY_BUCKETS[-1])) == 3
    assert bucket("+Inf") == 4
    assert seen["countersign_decision_seconds_count", ()] == 4
    assert abs(seen["countersign_decision_seconds_sum", ()] - 7.0014) < 1e-9
