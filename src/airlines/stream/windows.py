"""Windows: valid events -> the per-flight window aggregates the Redis sink writes.

Small pure functions from DataFrame to DataFrame, the same on a streaming DataFrame
(the job) and a batch one (the unit tests)::

    valid_events -> enrich -> distinct_on_time_events -> aggregate_windows -> sink_rows
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)

from airlines.config.types import spark_interval
from airlines.contract.event import FlightStatus


def enrich(events: DataFrame, routes: Mapping[str, str]) -> DataFrame:
    """Flatten events and add ``route_name`` (by source topic) and ``event_time``.

    ``routes`` maps topic name -> route name (``TopicConfig.route_name``).
    """
    if not routes:
        raise ValueError("no topic -> route mapping given")
    route: Column | None = None
    for topic, name in routes.items():
        route = (
            F.when(F.col("topic") == topic, name)
            if route is None
            else route.when(F.col("topic") == topic, name)
        )
    assert route is not None
    return events.select(
        route.alias("route_name"),
        F.col("event.timestamp").alias("event_time"),
        "event.*",
    )


#: What :func:`aggregate_windows` reads of an event: all the de-duplication carries.
AGGREGATED_COLUMNS = (
    "route_name",
    "event_time",
    "airline",
    "flight_id",
    "passenger_count",
    "ticket_price",
    "delay_minutes",
    "flight_status",
)
#: The de-duplication key: the event id's 16 bytes.
EVENT_KEY = "event_key"


def event_key(event_id: Column) -> Column:
    """A UUID's 16 bytes (``event_id`` is valid: checked by validation), whichever case
    its hexadecimal digits were written in."""
    return F.unhex(F.replace(event_id, F.lit("-"), F.lit("")))


def distinct_on_time_events(enriched: DataFrame, *, watermark: timedelta) -> DataFrame:
    """Drop late events, then every repeat of an ``event_id``: each event counts once.

    The watermark is the highest event time of the earlier micro-batches minus
    ``watermark``; an event at or before it is late. Spark's de-duplication operator
    drops late rows first and counts each one (``numRowsDroppedByWatermark``), then
    keeps the first row of each event id (the others are counted as
    ``numDroppedDuplicateRows``). Running it on single events, before any
    aggregation, is what makes both counts exact: an aggregation's own late count
    is taken after partial aggregation, one per group.

    An id is remembered until the watermark passes its event time plus ``watermark``;
    a repeat that arrives later than that is late anyway, so no repeat is aggregated.

    Every event is shuffled to the de-duplication, so its rows are narrow: the id's 16
    bytes (:func:`event_key`) and :data:`AGGREGATED_COLUMNS`, nothing else.

    On a batch DataFrame (tests, benchmarks) there is no earlier batch, so nothing is
    late; Spark has no batch form of the operator, and ``dropDuplicates`` is its
    equivalent there.
    """
    narrow = enriched.select(event_key(F.col("event_id")).alias(EVENT_KEY), *AGGREGATED_COLUMNS)
    if not narrow.isStreaming:
        return narrow.dropDuplicates([EVENT_KEY])
    watermarked = narrow.withWatermark("event_time", spark_interval(watermark))
    return watermarked.dropDuplicatesWithinWatermark([EVENT_KEY])


def aggregate_windows(
    events: DataFrame,
    *,
    window: timedelta,
    slide: timedelta | None,
) -> DataFrame:
    """Per (event-time window, route, flight): the analytics the sink stores.

    A flight is its ``flight_id`` on its route: the airline is an attribute, the first
    (in string order) of the names its events in the window carry. Events that disagree
    on it still make one window row, never two rows for one Redis hash, and the name
    does not depend on the order the events came in.

    ``events`` come from :func:`distinct_on_time_events` in the job (their event time
    carries the watermark, so window state is dropped once a window can no longer
    change). With sliding windows an on-time event may also fall in a window that has
    already closed; Spark drops that one window row (and counts it), not the event.
    """
    windowed = F.window(
        "event_time",
        spark_interval(window),
        spark_interval(slide) if slide is not None else None,
    )
    delayed = (F.col("flight_status") == FlightStatus.DELAYED.value).cast("long")
    return (
        events.groupBy(windowed.alias("window"), "route_name", "flight_id")
        .agg(
            F.min("airline").alias("airline"),
            F.count(F.lit(1)).alias("event_count"),
            F.sum("passenger_count").alias("total_passengers"),
            F.avg("ticket_price").alias("avg_ticket_price"),
            F.avg("delay_minutes").alias("avg_delay_minutes"),
            F.sum(delayed).alias("delayed_count"),
        )
        .withColumn("delayed_share", F.col("delayed_count") / F.col("event_count"))
    )


def sink_rows(aggregates: DataFrame) -> DataFrame:
    """The aggregates as the Redis sink writes them: flat, times as epoch milliseconds.

    ``updated_at_ms`` is the micro-batch's timestamp: Spark records it in the offset log
    and reuses it when a batch is replayed after a crash, so a replay writes the very
    same values (a wall-clock time taken in the sink would not).
    """
    return aggregates.select(
        "route_name",
        "airline",
        "flight_id",
        F.unix_millis(F.col("window.start")).alias("window_start_ms"),
        F.unix_millis(F.col("window.end")).alias("window_end_ms"),
        "event_count",
        "total_passengers",
        "avg_ticket_price",
        "avg_delay_minutes",
        "delayed_count",
        "delayed_share",
        F.unix_millis(F.current_timestamp()).alias("updated_at_ms"),
    )
