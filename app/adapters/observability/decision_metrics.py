"""The per-decision series, counted in plain Python and turned into Prometheus families at
scrape time: `countersign_decisions_total{effect, application}` and the
`countersign_decision_seconds` histogram.

prometheus_client's Counter and Histogram take a lock per increment (one per bucket walk and
one for the sum): on the decision path that cost more than deciding a cached token. These
counts are updated from the event loop's thread only; a scrape reads them as they stand.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

#: Upper bounds of the latency buckets, in seconds (+Inf is added at scrape).
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)


class DecisionCounts:
    """Decisions by (effect, application), and how long they took."""

    __slots__ = ("_bounds", "_buckets", "_counts", "_sum")

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._bounds = bounds
        #: Non-cumulative counts per bucket; the last one is +Inf.
        self._buckets = [0] * (len(bounds) + 1)
        self._sum = 0.0

    def count(self, effect: str, application: str, seconds: float) -> None:
        """One decision of `effect` at `application` that took `seconds`."""
        key = (effect, application)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1
        # bisect_left: a value equal to a bound belongs to that bound's bucket (le).
        self._buckets[bisect_left(self._bounds, seconds)] += 1
        self._sum += seconds

    def collect(self) -> Iterator[Metric]:
        """The two families, from the counts as they stand."""
        decisions = CounterMetricFamily(
            "countersign_decisions",
            "Decisions by effect and application",
            labels=["effect", "application"],
        )
        for (effect, application), n in sorted(self._counts.items()):
            decisions.add_metric([effect, application], n)
        yield decisions
        cumulative: list[tuple[str, float]] = []
        running = 0
        for bound, n in zip((*self._bounds, float("inf")), self._buckets, strict=True):
            running += n
            cumulative.append(("+Inf" if bound == float("inf") else _le(bound), running))
        yield HistogramMetricFamily(
            "countersign_decision_seconds",
            "Time to decide, grant lookups included",
            buckets=cumulative,
            sum_value=self._sum,
        )


def _le(bound: float) -> str:
    """A bucket bound as prometheus_client writes it (`0.001`, `0.25`)."""
    return repr(float(bound))
