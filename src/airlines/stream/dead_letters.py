"""Dead letters: a rejected record as the Kafka message the dead-letter topic gets.

The original key and value, unchanged (cut only past what a broker accepts), with
headers saying where the record came from and why validation
(:mod:`airlines.stream.validation`) rejected it.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)

#: Dead-letter message headers: where the record came from and why it was rejected.
HEADER_SOURCE_TOPIC = "dlq.source.topic"
HEADER_SOURCE_PARTITION = "dlq.source.partition"
HEADER_SOURCE_OFFSET = "dlq.source.offset"
HEADER_REASON = "dlq.reason"
#: Set (to the original value's size in bytes) when the value was cut to fit.
HEADER_TRUNCATED = "dlq.truncated"

#: Largest value and key a dead letter carries whole. With the headers, a dead letter
#: stays below the producer's and broker's default limit (1 MiB), so a record as large
#: as the broker accepted (or larger, if a producer compressed it) cannot stop the job.
DEAD_LETTER_MAX_VALUE = 1_000_000
DEAD_LETTER_MAX_KEY = 16_384


def dead_letter_columns(reason: Column) -> list[Column]:
    """A rejected record as a Kafka message for the dead-letter topic: key, value, headers.

    The value is the original bytes, unchanged (null stays null), and so is the key;
    headers say where the record came from and why it was rejected. A value longer than
    :data:`DEAD_LETTER_MAX_VALUE` (a key longer than :data:`DEAD_LETTER_MAX_KEY`) is cut
    to it, and the ``dlq.truncated`` header gives the original value's size: a dead
    letter the broker refused would stop the job on that record for good.
    """

    def header(name: str, value: Column) -> Column:
        return F.struct(
            F.lit(name).alias("key"), F.encode(value.cast("string"), "UTF-8").alias("value")
        )

    def cut(column: str, limit: int) -> Column:
        data = F.col(column)
        return F.when(F.length(data) > limit, F.substring(data, 1, limit)).otherwise(data)

    common = [
        header(HEADER_SOURCE_TOPIC, F.col("topic")),
        header(HEADER_SOURCE_PARTITION, F.col("partition")),
        header(HEADER_SOURCE_OFFSET, F.col("offset")),
        header(HEADER_REASON, reason),
    ]
    too_long = F.coalesce(F.length("value") > DEAD_LETTER_MAX_VALUE, F.lit(False))
    headers = F.when(
        too_long, F.array(*common, header(HEADER_TRUNCATED, F.length("value")))
    ).otherwise(F.array(*common))
    return [
        cut("key", DEAD_LETTER_MAX_KEY).alias("key"),
        cut("value", DEAD_LETTER_MAX_VALUE).alias("value"),
        headers.alias("headers"),
    ]


def dead_letter_messages(rejected: DataFrame) -> DataFrame:
    """:func:`dead_letter_columns` of each rejected record, as a DataFrame (what the
    gate sends, for a batch of rejected records)."""
    return rejected.select(*dead_letter_columns(F.col("rejection")))
