"""The streaming job's edges: Spark session, Kafka source, the query, the sinks.

One query, ``flight-analytics``, reads the configured topics once (one Kafka source,
one checkpoint under ``streaming.checkpointLocation``)::

    validate -> dead-letter gate -> valid events -> enrich -> watermark
        -> drop late events and repeated event ids -> windows -> Redis

Rejected records leave from inside the plan: the gate
(:data:`airlines.stream.jvm.DEAD_LETTER_GATE`) sends each one to the dead-letter topic
as it is filtered out, and the task that sent it confirms every send before it ends. The
windows go to Redis through ``foreachBatch`` (per-partition pipelined writes on the
executors; the driver only gets one count per partition back, never the rows).

A micro-batch whose Redis writes or dead letters fail (after bounded retries) fails the
query; the job then exits non-zero, and a restart replays that batch from the
checkpoint: the Redis writes are idempotent (aggregates exactly once), the dead
letters are sent again (at least once). Each batch is logged with its input rows, rate,
duration, rows written, and records dead-lettered, late and duplicate.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql.streaming.listener import StreamingQueryListener
from pyspark.sql.streaming.query import StreamingQuery

from airlines import paths
from airlines.config import AppConfig
from airlines.config.types import spark_interval
from airlines.contract.event import MAX_RECORD_BYTES
from airlines.contract.redis_layout import SINK_COLUMNS, KeyLayout, heartbeat_commands
from airlines.kafka.principals import STREAMING_GROUP_PREFIX
from airlines.kafka.settings import java_settings
from airlines.signals import stop_on_signals
from airlines.store.writer import ClusterWriter, SinkSettings, writer_for
from airlines.stream import jvm, transform

if TYPE_CHECKING:
    from pyspark.sql.streaming.listener import (
        QueryIdleEvent,
        QueryProgressEvent,
        QueryStartedEvent,
        QueryTerminatedEvent,
    )

log = logging.getLogger("airlines.stream")

ANALYTICS_QUERY = "flight-analytics"
#: Names of the observed metrics of the analytics query: the records judged, the valid.
RECORDS_METRICS = "records"
MARKERS_METRICS = "markers"
VALIDATION_METRICS = "validation"
#: Spark SQL setting the job turns off (see :func:`build_session`).
CONSTRAINT_PROPAGATION = "spark.sql.constraintPropagation.enabled"
#: Spark setting: the module of the executors' Python daemon (:mod:`airlines.stream.spark_daemon`).
PYTHON_DAEMON = "spark.python.daemon.module"
#: Largest generated method Spark keeps in whole-stage code (HotSpot JITs up to 8000 bytes).
HUGE_METHOD_LIMIT = "spark.sql.codegen.hugeMethodLimit"
#: Spark settings of the JVM flags put before any ``extraJavaOptions`` (driver, executors).
DEFAULT_JAVA_OPTIONS = ("spark.driver.defaultJavaOptions", "spark.executor.defaultJavaOptions")
#: Spark setting: compress shuffle files (off in local mode, see :func:`build_session`).
SHUFFLE_COMPRESS = "spark.shuffle.compress"
#: The local JVM's flags (see :func:`build_session`).
LOCAL_JVM_OPTIONS = " ".join(
    (
        "-XX:+UseSerialGC",
        "-XX:Tier4InvocationThreshold=50000",
        "-XX:Tier4MinInvocationThreshold=6000",
        "-XX:Tier4CompileThreshold=150000",
        "-XX:Tier4BackEdgeThreshold=400000",
    )
)


class JobError(RuntimeError):
    """The job cannot start or stopped because of a failure (message says which)."""


@dataclass(frozen=True)
class JobOptions:
    """How to run the job (the config says what to compute)."""

    master: str | None = None
    available_now: bool = False
    driver_memory: str = "1g"
    log_level: str = "WARN"
    extra_spark_conf: dict[str, str] = field(default_factory=dict)
    #: Serve Prometheus metrics on this port (None: not at all) and address.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"


# -- session and source ---------------------------------------------------------------


def default_master() -> str | None:
    """``local[2]`` unless spark-submit (which sets the master itself) launched us."""
    return None if "PYSPARK_GATEWAY_PORT" in os.environ else "local[2]"


def build_session(options: JobOptions, app_name: str = "airlines-flight-analytics") -> SparkSession:
    # Python workers must run this interpreter (it has the airlines package).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    master = options.master if options.master is not None else default_master()
    if master is not None:
        builder = builder.master(master)
    conf = {
        "spark.driver.memory": options.driver_memory,
        "spark.sql.session.timeZone": "UTC",
        # Python workers fork from a daemon that has already imported what they run.
        PYTHON_DAEMON: "airlines.stream.spark_daemon",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.streaming.stopGracefullyOnShutdown": "true",
        # Every micro-batch is optimized afresh, and inferring constraints over the
        # validation's large expressions cost the driver 10-14 s per analytics batch
        # (queryPlanning in the progress; 0.3 s without). The plan gains nothing from
        # the inferred filters: validation already decides every null.
        CONSTRAINT_PROPAGATION: "false",
        # The validation's generated code has methods past HotSpot's 8000-byte limit,
        # which the JIT never compiles: whole-stage code for it ran interpreted (46 µs
        # a record; 14 with Spark's per-operator code, which the JIT compiles).
        HUGE_METHOD_LIMIT: "8000",
    }
    if master is not None and master.startswith("local"):
        conf["spark.ui.enabled"] = "false"
        # One JVM is driver and executors here, on a few cores, with a small heap:
        # - the serial collector, which costs the least CPU for a heap of a few GiB;
        # - the optimising compiler (C2) kept for code run 10x more often than its
        #   default thresholds, so that its compile threads do not take the cores the
        #   tasks need. Over a 1.2M-record backlog both cut the job's CPU by a quarter.
        # A cluster's JVMs take theirs from the chart's sparkConf.
        for key in DEFAULT_JAVA_OPTIONS:
            conf[key] = LOCAL_JVM_OPTIONS
        # Shuffle files stay on this machine's disk (its page cache), never cross a
        # network: compressing them only costs CPU. The de-duplication shuffles every
        # event, so over a 1.2M-record backlog this made the job 6% faster.
        conf[SHUFFLE_COMPRESS] = "false"
    jars = paths.jars("spark-kafka") + paths.jars(jvm.JAR_BUNDLE)
    if jars:
        conf["spark.jars"] = ",".join(str(j) for j in jars)
    conf.update(options.extra_spark_conf)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(options.log_level)
    jvm.register_reader(spark)
    return spark


def shuffle_partitions(spark: SparkSession, config: AppConfig) -> int:
    """``streaming.shufflePartitions``, else the cores Spark has (DESIGN §5: not 200)."""
    configured = config.streaming.shuffle_partitions
    return configured if configured is not None else max(1, spark.sparkContext.defaultParallelism)


def kafka_stream(spark: SparkSession, config: AppConfig) -> DataFrame:
    """All configured topics, as one Kafka source."""
    reader = (
        spark.readStream.format("kafka")
        # Servers and security (the SASL login is read from its file here, on the driver).
        .options(**{f"kafka.{key}": value for key, value in java_settings(config.kafka).items()})
        .option("subscribe", ",".join(t.name for t in config.topics))
        # The consumer groups the streaming principal may use (kafka_principals).
        .option("groupIdPrefix", STREAMING_GROUP_PREFIX)
        .option("startingOffsets", config.streaming.starting_offsets)
        # Data deleted by retention before it was read is a loss: fail loudly.
        .option("failOnDataLoss", "true")
        # Smoke markers are recognised by a header as well as their key.
        .option("includeHeaders", "true")
        # At most 1 MiB of records per partition and fetch, as sent (compressed; Kafka's
        # default, stated). A larger batch still arrives whole (Kafka never splits one),
        # and a record past the contract's size bound is dead-lettered unread.
        .option("kafka.max.partition.fetch.bytes", str(MAX_RECORD_BYTES))
    )
    if config.streaming.max_offsets_per_trigger is not None:
        reader = reader.option("maxOffsetsPerTrigger", config.streaming.max_offsets_per_trigger)
    return reader.load()


def checkpoint_dir(config: AppConfig, query: str) -> str:
    location = config.streaming.checkpoint_location
    if "://" not in location:
        location = str(Path(location).resolve())
    return f"{location.rstrip('/')}/{query}"


# -- the Redis sink (foreachBatch) ------------------------------------------------------


def partition_writer(
    settings: SinkSettings, batch_id: int
) -> Callable[[Iterable[Row]], Iterator[tuple[int, int]]]:
    """The function each executor task runs over its partition: write, yield the count
    of rows written and of Redis write retries it took (the job's metrics)."""

    def write_partition(rows: Iterable[Row]) -> Iterator[tuple[int, int]]:
        iterator = iter(rows)
        first = next(iterator, None)
        if first is None:
            yield 0, 0
            return
        # The sink reads rows by position: transform.sink_rows must keep SINK_COLUMNS.
        if tuple(first.__fields__) != SINK_COLUMNS:
            raise JobError(f"sink rows have columns {first.__fields__}, expected {SINK_COLUMNS}")
        writer = writer_for(settings)
        retries_before = writer.stats.retries
        written = writer.write_windows(itertools.chain((first,), iterator), batch_id)
        yield written, writer.stats.retries - retries_before

    return write_partition


def _add_counts(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return a[0] + b[0], a[1] + b[1]


def write_batch_to_redis(
    batch: DataFrame, settings: SinkSettings, batch_id: int
) -> tuple[int, int]:
    """Write one micro-batch from the executors; returns the rows written and the Redis
    write retries they took.

    Only two integers per partition reach the driver. An exception in any task
    (after the writer's retries) fails the batch, and with it the query.
    """
    counts = batch.rdd.mapPartitions(partition_writer(settings, batch_id))
    rows, retries = counts.fold((0, 0), _add_counts)
    return int(rows), int(retries)


class RedisBatchSink:
    """``foreachBatch`` target: rows to Redis, then the heartbeat; remembers counts."""

    def __init__(self, settings: SinkSettings) -> None:
        self.settings = settings
        self.layout = KeyLayout(settings.key_prefix)
        self.rows_written: dict[int, int] = {}
        #: Redis write retries of each batch (executors' and the heartbeat's).
        self.redis_retries: dict[int, int] = {}
        self._driver_writer = ClusterWriter(settings)
        self._lock = threading.Lock()

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        rows, retries = write_batch_to_redis(batch, self.settings, batch_id)
        self.rows_written[batch_id] = rows
        before = self._driver_writer.stats.retries
        self.heartbeat(batch_id, rows)
        self.redis_retries[batch_id] = retries + self._driver_writer.stats.retries - before

    def heartbeat(self, batch_id: int, rows: int) -> None:
        with self._lock:
            self._driver_writer.write(
                heartbeat_commands(
                    self.layout,
                    batch_id=batch_id,
                    rows=rows,
                    now_ms=int(time.time() * 1000),
                    ttl_seconds=self.settings.ttl_seconds,
                )
            )

    def close(self) -> None:
        self._driver_writer.close()


# -- queries ------------------------------------------------------------------------------


def analytics_output(
    records: DataFrame, config: AppConfig, *, dead_letter_gate: str | None
) -> DataFrame:
    """Kafka records -> the rows the Redis sink writes (the analytics query's plan).

    With ``dead_letter_gate`` (a registered gate), rejected records go to the
    dead-letter topic from inside this plan; without it they are only counted.
    """
    valid = transform.gated_events(
        transform.kafka_records(records, markers_metric=MARKERS_METRICS),
        dead_letter_gate=dead_letter_gate,
        max_future_skew=config.streaming.max_future_skew,
        records_metric=RECORDS_METRICS,
        valid_metric=VALIDATION_METRICS,
    )
    routes = {t.name: t.route_name for t in config.topics}
    events = transform.distinct_on_time_events(
        transform.enrich(valid, routes), watermark=config.streaming.watermark
    )
    windows = transform.aggregate_windows(
        events, window=config.streaming.window, slide=config.streaming.slide
    )
    return transform.sink_rows(windows)


def _trigger(writer: Any, config: AppConfig, available_now: bool) -> Any:
    if available_now:
        return writer.trigger(availableNow=True)
    return writer.trigger(processingTime=spark_interval(config.streaming.trigger))


def register_dead_letter_gate(spark: SparkSession, config: AppConfig) -> None:
    """The gate of :func:`airlines.stream.transform.gated_events`, sending to the config's
    dead-letter topic, with the job's diagnosis and dead-letter message."""
    jvm.register_dead_letter_gate(
        spark,
        config.kafka,
        config.dead_letter.topic,
        diagnosis=transform.gate_diagnosis(jvm.empty_relation(spark, jvm.GATE_DIAGNOSIS_INPUT)),
        message=transform.dead_letter_messages(jvm.empty_relation(spark, jvm.GATE_MESSAGE_INPUT)),
        unreadable=transform.UNREADABLE,
    )


def start_query(
    spark: SparkSession, config: AppConfig, sink: RedisBatchSink, available_now: bool
) -> StreamingQuery:
    spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions(spark, config)))
    register_dead_letter_gate(spark, config)
    analytics = (
        analytics_output(kafka_stream(spark, config), config, dead_letter_gate=jvm.DEAD_LETTER_GATE)
        .writeStream.queryName(ANALYTICS_QUERY)
        .outputMode("update")
        .option("checkpointLocation", checkpoint_dir(config, "analytics"))
        .foreachBatch(sink)
    )
    query: StreamingQuery = _trigger(analytics, config, available_now).start()
    return query


# -- progress logging ----------------------------------------------------------------------


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


# -- running ---------------------------------------------------------------------------------


def preflight(config: AppConfig, settings: SinkSettings) -> None:
    """Fail fast, with a clear message, when Kafka topics or Redis are not there."""
    from airlines.kafka.admin import KafkaAdminError, cluster_metadata

    try:
        metadata = cluster_metadata(config.kafka, timeout=15)
    except KafkaAdminError as exc:
        raise JobError(str(exc)) from exc
    missing = [name for name in config.topic_names if name not in metadata.topics]
    if missing:
        raise JobError(
            f"kafka: topic(s) {', '.join(missing)} do not exist "
            "(create them with `airlines topics ensure`)"
        )
    writer = ClusterWriter(settings)
    try:
        writer.refresh_slots()
    except Exception as exc:
        nodes = ", ".join(settings.nodes)
        raise JobError(f"redis: cannot reach the cluster at {nodes}: {exc}") from exc
    finally:
        writer.close()


def run_job(config: AppConfig, settings: SinkSettings, options: JobOptions) -> list[BatchReport]:
    """Run the query until stopped (or, with ``available_now``, until caught up).

    Raises :class:`JobError` if a query fails. SIGTERM/SIGINT stop the queries cleanly.
    """
    from airlines.stream.metrics import JobReporting

    preflight(config, settings)
    reporting = JobReporting.start(settings, options.metrics_host, options.metrics_port)
    spark = build_session(options)
    sink = RedisBatchSink(settings)
    listener = ProgressLogger(sink, reporting.observers)
    spark.streams.addListener(listener)
    queries: list[StreamingQuery] = []
    with stop_on_signals() as stopping:
        try:
            queries = [start_query(spark, config, sink, options.available_now)]
            log.info(
                "streaming %s -> Redis %s (trigger %s, window %s, watermark %s, %s shuffle "
                "partitions), dead letters -> %s",
                ", ".join(t.name for t in config.topics),
                ", ".join(settings.nodes),
                "available-now"
                if options.available_now
                else spark_interval(config.streaming.trigger),
                spark_interval(config.streaming.window),
                spark_interval(config.streaming.watermark),
                spark.conf.get("spark.sql.shuffle.partitions"),
                config.dead_letter.topic,
            )
            failure = _wait(queries, stopping)
            if failure is not None:
                raise JobError(failure)
            return listener.reports
        finally:
            for query in queries:
                if query.isActive:
                    query.stop()
            spark.streams.removeListener(listener)
            jvm.close_dead_letter_producers(spark)
            sink.close()
            reporting.close()
            spark.stop()


def _wait(queries: list[StreamingQuery], stopping: threading.Event) -> str | None:
    """Until every query finished or one failed or we were told to stop; the failure."""
    while not stopping.is_set():
        for query in queries:
            problem = query.exception()
            if problem is not None:
                return f"query {query.name} failed: {_first_line(str(problem))}"
        if not any(q.isActive for q in queries):
            return None
        stopping.wait(0.5)
    log.info("stopping (signal received)")
    return None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return text
