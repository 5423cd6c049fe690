"""The streaming job: checks its inputs, runs the analytics query until stopped.

The query (:mod:`airlines.stream.queries`) reads Kafka in a session of its own
(:mod:`airlines.stream.session`). Rejected records leave from inside the plan: the gate
(:data:`airlines.stream.jvm.DEAD_LETTER_GATE`) sends each one to the dead-letter topic
as it is filtered out, and the task that sent it confirms every send before it ends. The
windows go to Redis through ``foreachBatch`` (:mod:`airlines.stream.redis_sink`:
per-partition pipelined writes on the executors; the driver only gets one count per
partition back, never the rows).

A micro-batch whose Redis writes or dead letters fail (after bounded retries) fails the
query; the job then exits non-zero, and a restart replays that batch from the
checkpoint: the Redis writes are idempotent (aggregates exactly once), the dead
letters are sent again (at least once). Each batch is logged with its input rows, rate,
duration, rows written, and records dead-lettered, late and duplicate
(:mod:`airlines.stream.progress`).
"""

from __future__ import annotations

import logging
import threading

from pyspark.sql.streaming.query import StreamingQuery

from airlines.config import AppConfig
from airlines.config.types import spark_interval
from airlines.kafka.admin import KafkaAdminError, cluster_metadata
from airlines.signals import stop_on_signals
from airlines.store.writer import ClusterWriter, SinkSettings
from airlines.stream import jvm
from airlines.stream.metrics import JobReporting
from airlines.stream.progress import BatchReport, ProgressLogger
from airlines.stream.queries import start_query
from airlines.stream.redis_sink import RedisBatchSink
from airlines.stream.session import JobError, JobOptions, build_session

log = logging.getLogger("airlines.stream")


def preflight(config: AppConfig, settings: SinkSettings) -> None:
    """Fail fast, with a clear message, when Kafka topics or Redis are not there."""
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
