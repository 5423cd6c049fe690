"""The analytics query: Kafka records -> validation and dead letters -> windows -> Redis.

One query, :data:`ANALYTICS_QUERY`, reads the configured topics once (one Kafka source,
one checkpoint under ``streaming.checkpointLocation``)::

    validate -> dead-letter gate -> valid events -> enrich -> watermark
        -> drop late events and repeated event ids -> windows -> Redis
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from airlines.config import AppConfig
from airlines.config.types import spark_interval
from airlines.stream import dead_letters, jvm, validation, windows
from airlines.stream.redis_sink import RedisBatchSink
from airlines.stream.session import checkpoint_dir, kafka_stream, shuffle_partitions

ANALYTICS_QUERY = "flight-analytics"
#: Names of the observed metrics of the analytics query: the records judged, the valid.
RECORDS_METRICS = "records"
MARKERS_METRICS = "markers"
VALIDATION_METRICS = "validation"


def analytics_output(
    records: DataFrame, config: AppConfig, *, dead_letter_gate: str | None
) -> DataFrame:
    """Kafka records -> the rows the Redis sink writes (the analytics query's plan).

    With ``dead_letter_gate`` (a registered gate), rejected records go to the
    dead-letter topic from inside this plan; without it they are only counted.
    """
    valid = validation.gated_events(
        validation.kafka_records(records, markers_metric=MARKERS_METRICS),
        dead_letter_gate=dead_letter_gate,
        max_future_skew=config.streaming.max_future_skew,
        records_metric=RECORDS_METRICS,
        valid_metric=VALIDATION_METRICS,
    )
    routes = {t.name: t.route_name for t in config.topics}
    events = windows.distinct_on_time_events(
        windows.enrich(valid, routes), watermark=config.streaming.watermark
    )
    aggregates = windows.aggregate_windows(
        events, window=config.streaming.window, slide=config.streaming.slide
    )
    return windows.sink_rows(aggregates)


def _trigger(writer: Any, config: AppConfig, available_now: bool) -> Any:
    if available_now:
        return writer.trigger(availableNow=True)
    return writer.trigger(processingTime=spark_interval(config.streaming.trigger))


def register_dead_letter_gate(spark: SparkSession, config: AppConfig) -> None:
    """The gate of :func:`airlines.stream.validation.gated_events`, sending to the config's
    dead-letter topic, with the job's diagnosis and dead-letter message."""
    jvm.register_dead_letter_gate(
        spark,
        config.kafka,
        config.dead_letter.topic,
        diagnosis=validation.gate_diagnosis(jvm.empty_relation(spark, jvm.GATE_DIAGNOSIS_INPUT)),
        message=dead_letters.dead_letter_messages(
            jvm.empty_relation(spark, jvm.GATE_MESSAGE_INPUT)
        ),
        unreadable=validation.UNREADABLE,
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
