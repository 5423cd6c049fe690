"""The job's functions that run in the JVM (``jvm/spark-job``), registered in a session.

* :data:`READ_EVENT` - a record's bytes -> its fields, typed, and whether they are
  already known to be valid (a struct of :func:`read_event_schema`), or null when it
  cannot read them. The validation's fast path: a record in the producers' own form is
  read in one pass and checked on the way; any other record is read as ``from_json``
  reads it and left for the full validation in :mod:`airlines.stream.validation` to judge;
* :data:`DEAD_LETTER_GATE` - sends a rejected record to the dead-letter topic from
  inside the analytics query and answers false (non-deterministic: the optimizer keeps
  it where it is). What one task sent is flushed and confirmed when the task ends, so a
  send that failed fails the micro-batch.

Both are registered from the contract (:func:`airlines.stream.schema.event_fields`) and
the config; the jar is built by ``make setup`` (``scripts/setup.sh``) and baked into the
job image.
"""

from __future__ import annotations

from typing import Any

import orjson
from py4j.java_gateway import JavaClass
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import BooleanType, StructField, StructType

from airlines.config import KafkaConfig
from airlines.kafka.settings import java_settings
from airlines.stream.schema import event_fields

READ_EVENT = "airlines_read_event"
#: The field of :data:`READ_EVENT`'s struct that says the fast path checked the record.
CHECKED = "checked"
DEAD_LETTER_GATE = "airlines_dead_letter"
#: The jar's bundle under ``paths.jars`` (``$AIRLINES_CACHE/jars/spark-job``).
JAR_BUNDLE = "spark-job"
_FUNCTIONS = "io.airlinesanalytics.job.JobFunctions"
_GATE = "io.airlinesanalytics.job.DeadLetterGate"


class JvmFunctionsMissingError(RuntimeError):
    """The job's jar is not on Spark's classpath."""


def fast_path_fields() -> list[dict[str, Any]]:
    """The contract's fields as the fast path checks them, in contract order."""
    return [
        {
            "name": spec.name,
            "kind": spec.json_type,
            "format": spec.format,
            "pattern": spec.java_pattern if spec.pattern is not None else None,
            "min_length": spec.min_length,
            "max_length": spec.max_length,
            "enum": list(spec.enum) if spec.enum is not None else None,
            "minimum": spec.minimum,
            "exclusive_minimum": spec.exclusive_minimum,
            "maximum": spec.maximum,
            "exclusive_maximum": spec.exclusive_maximum,
        }
        for spec in event_fields()
    ]


def read_event_schema() -> StructType:
    """What :data:`READ_EVENT` returns: every field, typed as the job's event (a
    date-time as the instant Spark's cast of its text gives), and :data:`CHECKED`."""
    fields = [StructField(spec.name, spec.spark_type) for spec in event_fields()]
    return StructType([*fields, StructField(CHECKED, BooleanType())])


def _jvm_class(spark: SparkSession, name: str) -> Any:
    found = spark._jvm
    for part in name.split("."):
        found = getattr(found, part)
    if not isinstance(found, JavaClass):
        raise JvmFunctionsMissingError(
            f"{name} is not on Spark's classpath: the job's jar ({JAR_BUNDLE}) is missing "
            "(run `make setup`, or use the job image)"
        )
    return found


def register_reader(spark: SparkSession) -> None:
    """Register :data:`READ_EVENT` (needs nothing but the contract)."""
    _jvm_class(spark, _FUNCTIONS).registerEventReader(
        spark._jsparkSession,
        READ_EVENT,
        orjson.dumps(fast_path_fields()).decode(),
        read_event_schema().json(),
    )


def dead_letter_producer_config(kafka: KafkaConfig) -> dict[str, str]:
    """The gate's producer settings (the gate adds idempotence and ``acks=all``)."""
    return {
        **java_settings(kafka),
        "client.id": f"{kafka.client_id}-dead-letters",
        "compression.type": "lz4",
    }


#: The rows the gate's message projection reads, in this order (DeadLetterGate.java).
GATE_MESSAGE_INPUT = (
    "key binary, value binary, topic string, partition int, offset bigint, rejection string"
)
#: The row its diagnosis reads.
GATE_DIAGNOSIS_INPUT = "value binary"


def register_dead_letter_gate(
    spark: SparkSession,
    kafka: KafkaConfig,
    topic: str,
    *,
    diagnosis: DataFrame,
    message: DataFrame,
    unreadable: str,
) -> None:
    """Register :data:`DEAD_LETTER_GATE`, sending to ``topic`` of ``kafka``.

    ``diagnosis`` (one column over a relation of :data:`GATE_DIAGNOSIS_INPUT`) says what
    is wrong with a record the fast path did not check; ``message`` (key, value, headers
    over :data:`GATE_MESSAGE_INPUT`) is the dead letter of a rejected one. Both are
    evaluated by the gate, outside the streaming plan; ``unreadable`` is the reason of a
    record the diagnosis accepts but the reader could not read.
    """
    _jvm_class(spark, _FUNCTIONS).registerDeadLetterGate(
        spark._jsparkSession,
        DEAD_LETTER_GATE,
        topic,
        orjson.dumps(dead_letter_producer_config(kafka)).decode(),
        diagnosis._jdf,
        message._jdf,
        unreadable,
    )


def empty_relation(spark: SparkSession, schema: str) -> DataFrame:
    """A relation of ``schema`` Spark cannot fold away (the gate's projections' input)."""
    return spark.createDataFrame(spark.sparkContext.emptyRDD(), schema)


def close_dead_letter_producers(spark: SparkSession) -> None:
    """Close the gate's producers in this (the driver's) JVM; executors close theirs
    when they exit."""
    _jvm_class(spark, _GATE).closeAll()
