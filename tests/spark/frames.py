"""Batch DataFrames shaped like what the job's validation reads (tests only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession

#: :func:`airlines.stream.validation.kafka_records`'s columns.
RECORD_SCHEMA = (
    "key binary, value binary, topic string, partition int, offset long, record_time timestamp"
)


def record_frame(
    spark: SparkSession,
    messages: Sequence[tuple[str, bytes | None]],
    *,
    key: bytes | None = b"k",
    sent_at: datetime | Sequence[datetime] | None = None,
) -> DataFrame:
    """(topic, value) messages as records of partition 0, offsets 0.., sent at ``sent_at``
    (one time for all, or one each; default: now)."""
    if sent_at is None or isinstance(sent_at, datetime):
        times = [sent_at or datetime.now(UTC)] * len(messages)
    else:
        times = list(sent_at)
    rows = [
        (key, value, topic, 0, offset, time)
        for offset, ((topic, value), time) in enumerate(zip(messages, times, strict=True))
    ]
    return spark.createDataFrame(rows, RECORD_SCHEMA)
