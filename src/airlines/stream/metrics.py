"""What the streaming job reports beyond its log: Prometheus metrics and its batch log.

:class:`ProgressLogger <airlines.stream.progress.ProgressLogger>` tells its observers of
every analytics batch after logging it. Two observers:

* :class:`JobMetrics`: the batch's figures as Prometheus metrics (``airlines_job_*``,
  see :mod:`airlines.metrics`), summed over the job's life. The counters add up exactly
  the logged batch lines; a scrape sees them all from one batch (a lock, not a race).
* :class:`BatchLog`: the batch's report into Redis (``P:job:batches``), where the
  dashboard reads the pipeline's health; the driver writes it, with its own writer.

:class:`JobReporting` starts both (and ``/metrics``) for a run of the job.
"""

from __future__ import annotations

import bisect
import copy
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from airlines import metrics as names
from airlines.contract.redis_layout import BatchSummary, KeyLayout, batch_log_commands, parse_iso_ms
from airlines.metrics import BATCH_DURATION_BUCKETS, MetricSpec, MetricsServer, serve
from airlines.store.writer import ClusterWriter, SinkSettings

if TYPE_CHECKING:
    from airlines.stream.progress import BatchObserver, BatchReport

log = logging.getLogger("airlines.stream")


def watermark_ms(text: str | None) -> int | None:
    """Spark's watermark (ISO 8601) in epoch ms; None before any event (epoch 0)."""
    if not text:
        return None
    value = parse_iso_ms(text)
    return value if value > 0 else None


def state_figures(progress: Any) -> tuple[int, int]:
    """Rows and memory (bytes) of the query's state stores after the batch."""
    rows = memory = 0
    for operator in progress.stateOperators:
        rows += int(operator.numRowsTotal)
        memory += int(operator.memoryUsedBytes)
    return rows, memory


@dataclass
class _Figures:
    batches: int = 0
    input_records: int = 0
    rows_written: int = 0
    dead_lettered: int = 0
    late: int = 0
    duplicates: int = 0
    markers: int = 0
    redis_retries: int = 0
    duration_buckets: list[int] = field(
        default_factory=lambda: [0] * (len(BATCH_DURATION_BUCKETS) + 1)
    )
    duration_sum: float = 0.0
    last_batch_id: int | None = None
    last_batch_at: float | None = None
    watermark_s: float | None = None
    state_rows: int = 0
    state_memory: int = 0


class JobMetrics(Collector):
    """The analytics batches' figures as Prometheus metrics (a batch observer)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._figures = _Figures()

    def __call__(self, report: BatchReport, progress: Any) -> None:
        rows, memory = state_figures(progress)
        mark = watermark_ms(report.watermark)
        seconds = report.duration_ms / 1000
        with self._lock:
            f = self._figures
            f.batches += 1
            f.input_records += report.input_rows
            f.rows_written += report.rows_written
            f.dead_lettered += report.dead_lettered
            f.late += report.late_events
            f.duplicates += report.duplicates
            f.markers += report.markers
            f.redis_retries += report.redis_retries
            f.duration_buckets[bisect.bisect_left(BATCH_DURATION_BUCKETS, seconds)] += 1
            f.duration_sum += seconds
            f.last_batch_id = report.batch_id
            f.last_batch_at = self._clock()
            if mark is not None:
                f.watermark_s = mark / 1000
            f.state_rows, f.state_memory = rows, memory

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            f = copy.deepcopy(self._figures)
        now = self._clock()
        for spec, value in (
            (names.JOB_BATCHES, f.batches),
            (names.JOB_INPUT_RECORDS, f.input_records),
            (names.JOB_ROWS_WRITTEN, f.rows_written),
            (names.JOB_DEAD_LETTERED, f.dead_lettered),
            (names.JOB_LATE, f.late),
            (names.JOB_DUPLICATES, f.duplicates),
            (names.JOB_MARKERS, f.markers),
            (names.JOB_REDIS_RETRIES, f.redis_retries),
        ):
            yield CounterMetricFamily(spec.family, spec.help, value=value)
        yield _histogram(names.JOB_BATCH_DURATION, f.duration_buckets, f.duration_sum)
        gauges: list[tuple[MetricSpec, float | None]] = [
            (names.JOB_LAST_BATCH_ID, f.last_batch_id),
            (names.JOB_LAST_BATCH_TIME, f.last_batch_at),
            (names.JOB_WATERMARK_DELAY, now - f.watermark_s if f.watermark_s else None),
            (names.JOB_STATE_ROWS, f.state_rows),
            (names.JOB_STATE_MEMORY, f.state_memory),
        ]
        for spec, gauge in gauges:
            if gauge is not None:
                yield GaugeMetricFamily(spec.family, spec.help, value=gauge)


def _histogram(spec: MetricSpec, counts: list[int], total: float) -> HistogramMetricFamily:
    cumulative, buckets = 0, []
    for bound, count in zip([*map(str, BATCH_DURATION_BUCKETS), "+Inf"], counts, strict=True):
        cumulative += count
        buckets.append((bound, cumulative))
    return HistogramMetricFamily(spec.family, spec.help, buckets=buckets, sum_value=total)


class BatchLog:
    """Writes each batch's report to Redis (``P:job:batches``; a batch observer)."""

    def __init__(self, settings: SinkSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.layout = KeyLayout(settings.key_prefix)
        self._writer = ClusterWriter(settings)
        self._clock = clock

    def __call__(self, report: BatchReport, progress: Any) -> None:
        summary = BatchSummary(
            batch_id=report.batch_id,
            finished_at_ms=int(self._clock() * 1000),
            input_rows=report.input_rows,
            rows_written=report.rows_written,
            dead_lettered=report.dead_lettered,
            late_events=report.late_events,
            duplicates=report.duplicates,
            markers=report.markers,
            duration_ms=report.duration_ms,
            watermark_ms=watermark_ms(report.watermark),
        )
        self._writer.write(
            batch_log_commands(self.layout, summary, ttl_seconds=self.settings.ttl_seconds)
        )

    def close(self) -> None:
        self._writer.close()


@dataclass
class JobReporting:
    """The job's batch observers, and its ``/metrics`` server when a port is given."""

    metrics: JobMetrics
    batch_log: BatchLog
    server: MetricsServer | None

    @classmethod
    def start(cls, settings: SinkSettings, host: str, port: int | None) -> JobReporting:
        job_metrics = JobMetrics()
        registry = CollectorRegistry()
        registry.register(job_metrics)
        server = serve(registry, host, port)
        if server is not None:
            log.info("metrics on %s", server.url)
        return cls(job_metrics, BatchLog(settings), server)

    @property
    def observers(self) -> list[BatchObserver]:
        return [self.metrics, self.batch_log]

    def close(self) -> None:
        self.batch_log.close()
        if self.server is not None:
            self.server.close()
