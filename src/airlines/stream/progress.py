"""The analytics query's progress: one report per micro-batch, logged and passed on.

Every record read is accounted for in a :class:`BatchReport`: aggregated, dead-lettered,
late, a duplicate or a smoke marker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pyspark.sql.streaming.listener import StreamingQueryListener

from airlines.stream.queries import (
    ANALYTICS_QUERY,
    MARKERS_METRICS,
    RECORDS_METRICS,
    VALIDATION_METRICS,
)
from airlines.stream.redis_sink import RedisBatchSink

if TYPE_CHECKING:
    from pyspark.sql.streaming.listener import (
        QueryIdleEvent,
        QueryProgressEvent,
        QueryStartedEvent,
        QueryTerminatedEvent,
    )

log = logging.getLogger("airlines.stream")


@dataclass(frozen=True)
class BatchReport:
    """One analytics micro-batch, as logged.

    Every record read is exactly one of: aggregated, dead-lettered, late, a duplicate or
    a smoke marker (``input_rows = aggregated + dead_lettered + late_events + duplicates
    + markers``). ``closed_window_rows`` (sliding windows only) counts windows of
    on-time events that had already closed; those events are aggregated elsewhere.
    """

    batch_id: int
    input_rows: int
    rows_per_second: float
    duration_ms: int
    rows_written: int
    dead_lettered: int
    late_events: int
    duplicates: int
    closed_window_rows: int
    watermark: str | None
    #: Smoke markers (``airlines smoke``) skipped.
    markers: int = 0
    #: Redis write retries the batch took (not logged; a metric).
    redis_retries: int = 0

    @property
    def aggregated(self) -> int:
        return (
            self.input_rows - self.dead_lettered - self.late_events - self.duplicates - self.markers
        )

    def line(self) -> str:
        text = (
            f"batch {self.batch_id}: {self.input_rows} records in "
            f"({self.rows_per_second:,.0f} rows/s), {self.duration_ms} ms, "
            f"{self.rows_written} rows written to Redis, {self.dead_lettered} dead-lettered, "
            f"{self.late_events} late (dropped by watermark"
            + (f" {self.watermark}" if self.watermark else "")
            + f"), {self.duplicates} duplicates dropped, {self.markers} smoke markers skipped"
        )
        if self.closed_window_rows:
            text += f", {self.closed_window_rows} closed-window rows"
        return text


#: Spark's name of the de-duplication operator in a query's progress.
DEDUPLICATION_OPERATOR = "dedupeWithinWatermark"


def batch_report(progress: Any, rows_written: int) -> BatchReport:
    """Read a ``StreamingQueryProgress`` of the analytics query."""
    judged = progress.observedMetrics.get(RECORDS_METRICS)
    markers = progress.observedMetrics.get(MARKERS_METRICS)
    valid = progress.observedMetrics.get(VALIDATION_METRICS)
    rejected = (
        (int(judged["records"]) - (int(valid["valid"]) if valid is not None else 0))
        if judged is not None
        else 0
    )
    late = duplicates = closed = 0
    for operator in progress.stateOperators:
        if operator.operatorName == DEDUPLICATION_OPERATOR:
            late += int(operator.numRowsDroppedByWatermark)
            duplicates += int(operator.customMetrics.get("numDroppedDuplicateRows", 0))
        else:  # the window aggregation (after de-duplication: late only for sliding windows)
            closed += int(operator.numRowsDroppedByWatermark)
    return BatchReport(
        batch_id=int(progress.batchId),
        input_rows=int(progress.numInputRows),
        rows_per_second=float(progress.processedRowsPerSecond or 0.0),
        duration_ms=int(progress.batchDuration),
        rows_written=rows_written,
        dead_lettered=rejected,
        late_events=late,
        duplicates=duplicates,
        closed_window_rows=closed,
        watermark=(progress.eventTime or {}).get("watermark"),
        markers=int(markers["markers"]) if markers is not None else 0,
    )


#: Told of every analytics batch after it is logged: its report and Spark's progress
#: (the job's metrics, its batch log in Redis).
BatchObserver = Callable[[BatchReport, Any], None]


class ProgressLogger(StreamingQueryListener):
    """Logs every analytics batch; keeps the heartbeat fresh while the input is idle."""

    def __init__(self, sink: RedisBatchSink, observers: Sequence[BatchObserver] = ()) -> None:
        self.sink = sink
        self.observers = list(observers)
        self.reports: list[BatchReport] = []
        self.last_batch_id = -1

    def onQueryStarted(self, event: QueryStartedEvent) -> None:  # noqa: N802 (Spark's API)
        log.info("query %s started (id %s)", event.name, event.id)

    def onQueryProgress(self, event: QueryProgressEvent) -> None:  # noqa: N802 (Spark's API)
        progress = event.progress
        if progress.name == ANALYTICS_QUERY:
            report = batch_report(progress, self.sink.rows_written.pop(progress.batchId, 0))
            report = replace(report, redis_retries=self.sink.redis_retries.pop(report.batch_id, 0))
            self.reports.append(report)
            self.last_batch_id = report.batch_id
            log.info("%s", report.line())
            for observe in self.observers:
                try:
                    observe(report, progress)
                except Exception as exc:  # reporting must never stop the job
                    log.warning("batch %s not reported: %s", report.batch_id, exc)

    def onQueryIdle(self, event: QueryIdleEvent) -> None:  # noqa: N802 (Spark's API)
        # No new data: no batch, but the job is alive; say so (smoke checks freshness).
        try:
            self.sink.heartbeat(self.last_batch_id, 0)
        except Exception as exc:  # the next batch will fail loudly if Redis is gone
            log.warning("heartbeat not written: %s", exc)

    def onQueryTerminated(self, event: QueryTerminatedEvent) -> None:  # noqa: N802 (Spark's API)
        if event.exception:
            log.error("query %s failed: %s", event.id, event.exception.splitlines()[0])
