"""Prometheus metrics of every component: their names, and serving ``/metrics``.

Each component exposes its figures with the official ``prometheus_client``: the
streaming job (:mod:`airlines.stream.metrics`), the producers
(:mod:`airlines.produce.metrics`) and the dashboard (:mod:`airlines.dashboard.metrics`).
Their names and meanings are defined here, once: the components, the README's metric
table and the chart's Grafana dashboard (whose queries a test checks against this
list) all take them from :data:`METRICS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, start_http_server

Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its exposed name (counters end in ``_total``), kind, labels, meaning."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    component: str = ""

    @property
    def family(self) -> str:
        """The name ``prometheus_client`` takes (a counter's without ``_total``)."""
        return self.name.removesuffix("_total") if self.kind == "counter" else self.name

    @property
    def series(self) -> tuple[str, ...]:
        """Names of the series it exposes (a histogram's buckets, sum and count)."""
        if self.kind == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


def _job(name: str, kind: Kind, text: str) -> MetricSpec:
    return MetricSpec(f"airlines_job_{name}", kind, text, component="job")


def _producer(name: str, kind: Kind, text: str) -> MetricSpec:
    return MetricSpec(
        f"airlines_producer_{name}", kind, text, ("region", "topic"), component="producer"
    )


JOB_BATCHES = _job("batches_total", "counter", "Analytics micro-batches completed.")
JOB_INPUT_RECORDS = _job("input_records_total", "counter", "Kafka records read.")
JOB_ROWS_WRITTEN = _job(
    "redis_rows_written_total", "counter", "Window rows written to Redis (one hash each)."
)
JOB_DEAD_LETTERED = _job(
    "dead_lettered_records_total", "counter", "Records that failed the contract (dead letters)."
)
JOB_LATE = _job("late_events_total", "counter", "Events dropped as late by the watermark.")
JOB_DUPLICATES = _job("duplicate_events_total", "counter", "Repeated event ids dropped.")
JOB_MARKERS = _job(
    "smoke_markers_total", "counter", "Smoke-test markers (airlines smoke) read and skipped."
)
JOB_REDIS_RETRIES = _job(
    "redis_write_retries_total", "counter", "Redis write rounds retried (failover, redirects...)."
)
JOB_BATCH_DURATION = _job("batch_duration_seconds", "histogram", "Duration of a micro-batch.")
JOB_LAST_BATCH_ID = _job("last_batch_id", "gauge", "Id of the last completed micro-batch.")
JOB_LAST_BATCH_TIME = _job(
    "last_batch_timestamp_seconds", "gauge", "When the last micro-batch completed (Unix time)."
)
JOB_WATERMARK_DELAY = _job(
    "watermark_delay_seconds",
    "gauge",
    "Wall-clock time minus the event-time watermark (absent before the first event).",
)
JOB_STATE_ROWS = _job("state_rows", "gauge", "Rows held in the streaming state stores.")
JOB_STATE_MEMORY = _job("state_memory_bytes", "gauge", "Memory used by the streaming state stores.")

PRODUCER_DELIVERED = _producer(
    "events_delivered_total", "counter", "Events the brokers acknowledged."
)
PRODUCER_FAILED = _producer(
    "events_failed_total", "counter", "Events reported failed (not acknowledged)."
)
PRODUCER_IN_FLIGHT = _producer(
    "events_in_flight", "gauge", "Events handed to the client and not yet acknowledged or failed."
)
PRODUCER_LATENCY = _producer(
    "delivery_latency_seconds", "histogram", "From produce() to the broker's acknowledgement."
)

DASHBOARD_REQUESTS = MetricSpec(
    "airlines_dashboard_requests_total",
    "counter",
    "HTTP requests served, by route template, method and status class (2xx..5xx).",
    ("path", "method", "status"),
    component="dashboard",
)
DASHBOARD_DURATION = MetricSpec(
    "airlines_dashboard_request_duration_seconds",
    "histogram",
    "Time to answer a request (for server-sent events: to start the stream).",
    ("path", "method"),
    component="dashboard",
)
DASHBOARD_REDIS_ERRORS = MetricSpec(
    "airlines_dashboard_redis_errors_total",
    "counter",
    "Requests answered 503 because Redis could not be read.",
    component="dashboard",
)
DASHBOARD_STREAMS = MetricSpec(
    "airlines_dashboard_live_streams",
    "gauge",
    "Live event streams (server-sent events) open now.",
    component="dashboard",
)
DASHBOARD_STREAMS_REFUSED = MetricSpec(
    "airlines_dashboard_streams_refused_total",
    "counter",
    "Event streams refused (429) at the per-client or total bound.",
    component="dashboard",
)

METRICS: tuple[MetricSpec, ...] = (
    JOB_BATCHES,
    JOB_INPUT_RECORDS,
    JOB_ROWS_WRITTEN,
    JOB_DEAD_LETTERED,
    JOB_LATE,
    JOB_DUPLICATES,
    JOB_MARKERS,
    JOB_REDIS_RETRIES,
    JOB_BATCH_DURATION,
    JOB_LAST_BATCH_ID,
    JOB_LAST_BATCH_TIME,
    JOB_WATERMARK_DELAY,
    JOB_STATE_ROWS,
    JOB_STATE_MEMORY,
    PRODUCER_DELIVERED,
    PRODUCER_FAILED,
    PRODUCER_IN_FLIGHT,
    PRODUCER_LATENCY,
    DASHBOARD_REQUESTS,
    DASHBOARD_DURATION,
    DASHBOARD_REDIS_ERRORS,
    DASHBOARD_STREAMS,
    DASHBOARD_STREAMS_REFUSED,
)

#: Bucket bounds (seconds) of the duration histograms.
BATCH_DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

#: Default ports of /metrics (the chart's and the demo's).
JOB_METRICS_PORT = 9108
PRODUCER_METRICS_PORT = 9102
DASHBOARD_METRICS_PORT = 9110
#: The dashboard's page and API (the chart's and ``airlines dashboard``'s), kept apart from
#: its /metrics port so scrapers and readers can be told apart.
DASHBOARD_PORT = 8050


class MetricsListenError(RuntimeError):
    """``/metrics`` cannot listen where it was asked to (the message says why)."""


class MetricsServer:
    """``/metrics`` of one registry over HTTP, in a daemon thread, until :meth:`close`."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        try:
            self.server, self._thread = start_http_server(port, addr=host, registry=registry)
        except OSError as exc:
            raise MetricsListenError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from exc
        self.host = host
        self.port = int(self.server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


def serve(registry: CollectorRegistry, host: str, port: int | None) -> MetricsServer | None:
    """Serve ``registry`` on ``host:port``; None when ``port`` is None (metrics off)."""
    if port is None:
        return None
    return MetricsServer(registry, host, port)
