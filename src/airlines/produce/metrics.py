"""A producer's Prometheus metrics: deliveries, failures, in flight, delivery latency.

The counts are read, at each scrape, from the same :class:`DeliveryStats` the
producer's summary line prints, so ``/metrics`` and the summary cannot disagree; the
latency of each acknowledged event (librdkafka's, from ``produce()`` to the broker's
acknowledgement) goes into a histogram.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from airlines import metrics as names
from airlines.metrics import LATENCY_BUCKETS
from airlines.produce.publisher import DeliveryStats


class ProducerMetrics(Collector):
    """Metrics of one producer (labels: its region and topic)."""

    def __init__(self, region: str, topic: str) -> None:
        self.labels = [region, topic]
        self.stats = DeliveryStats()
        self._lock = threading.Lock()
        self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0

    def attach(self, stats: DeliveryStats) -> None:
        """Report these stats (the publisher's) from now on."""
        self.stats = stats

    def observe_latency(self, seconds: float) -> None:
        with self._lock:
            self._buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self._latency_sum += seconds

    def registry(self) -> CollectorRegistry:
        registry = CollectorRegistry()
        registry.register(self)
        return registry

    def collect(self) -> Iterator[Metric]:
        stats = self.stats
        delivered, failed, queued = stats.delivered, stats.failed, stats.queued
        label_names = list(names.PRODUCER_DELIVERED.labels)
        for spec, value in (
            (names.PRODUCER_DELIVERED, delivered),
            (names.PRODUCER_FAILED, failed),
        ):
            family = CounterMetricFamily(spec.family, spec.help, labels=label_names)
            family.add_metric(self.labels, value)
            yield family
        gauge = GaugeMetricFamily(
            names.PRODUCER_IN_FLIGHT.family, names.PRODUCER_IN_FLIGHT.help, labels=label_names
        )
        gauge.add_metric(self.labels, max(0, queued - delivered - failed))
        yield gauge
        with self._lock:
            counts, total = list(self._buckets), self._latency_sum
        cumulative, buckets = 0, []
        for bound, count in zip([*map(str, LATENCY_BUCKETS), "+Inf"], counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        histogram = HistogramMetricFamily(
            names.PRODUCER_LATENCY.family, names.PRODUCER_LATENCY.help, labels=label_names
        )
        histogram.add_metric(self.labels, buckets, total)
        yield histogram
