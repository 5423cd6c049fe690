"""Spark schemas and per-field checks, derived from :class:`airlines.contract.event.FlightEvent`.

Nothing about the event is written down twice: the Spark types come from the model's
field annotations, and the value checks (patterns, lengths, bounds, enums, formats)
from its JSON Schema. Adding a field to the contract changes the job without touching
this module; a field of a type this module cannot map fails loudly at import time of
the job (and in the unit tests), not silently at run time.

Three schemas, one per purpose:

* :func:`event_schema` - a validated event as the job uses it (typed: timestamps are
  ``TimestampType``, integers ``LongType``);
* :func:`wire_schema` - what ``from_json`` reads from Kafka: like the event schema,
  except date-times stay strings (so the job can require RFC 3339 with an offset before
  casting; Spark alone would accept naive times and bare numbers), plus a column for
  the corrupt-record text;
* :func:`diagnostic_schema` - every field as ``VARIANT``: parsed only for records that
  already failed, to say precisely what was wrong (missing, null, or which JSON type
  arrived instead of the expected one).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal

from pydantic import AwareDatetime, FutureDatetime, NaiveDatetime, PastDatetime
from pyspark.sql.types import (
    DataType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
    VariantType,
)

from airlines.contract.event import FlightEvent

#: Column ``from_json`` fills with the raw text of a record it could not fully parse.
CORRUPT_RECORD = "_corrupt_record"

JsonType = Literal["string", "integer", "number"]

#: RFC 3339 date-time with a mandatory UTC offset: the contract's ``AwareDatetime``.
#: (Spark's cast alone would also take naive times, which pydantic rejects.)
RFC3339_DATE_TIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})\z"
)
#: RFC 4122 text form of a UUID (JSON Schema ``format: uuid``).
UUID_TEXT = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\z"

FORMAT_PATTERNS = {"date-time": RFC3339_DATE_TIME, "uuid": UUID_TEXT}


#: pydantic's datetime flavours are marker classes, not datetime subclasses.
_PYDANTIC_DATETIMES: tuple[Any, ...] = (AwareDatetime, NaiveDatetime, PastDatetime, FutureDatetime)


@dataclass(frozen=True)
class FieldSpec:
    """One event field: its Spark type and the checks its JSON Schema states."""

    name: str
    json_type: JsonType
    spark_type: DataType
    pattern: str | None = None  # as in the JSON Schema
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    exclusive_maximum: float | None = None
    enum: tuple[str, ...] | None = None
    format: str | None = None

    @property
    def java_pattern(self) -> str:
        """``pattern`` for Spark's ``rlike`` (see :func:`java_anchored`)."""
        if self.pattern is None:
            raise ValueError(f"field {self.name!r} has no pattern")
        return java_anchored(self.pattern)

    @property
    def is_date_time(self) -> bool:
        return self.format == "date-time"


def spark_type_for(annotation: Any) -> DataType:
    """The Spark type of a model field annotation (after pydantic unwrapped ``Annotated``)."""
    if annotation in _PYDANTIC_DATETIMES:
        return TimestampType()
    if isinstance(annotation, type):
        # bool is an int subclass; the contract has none, and guessing would be wrong.
        if issubclass(annotation, bool):
            raise TypeError("bool fields are not supported by the Spark schema derivation")
        if issubclass(annotation, datetime):
            return TimestampType()
        if issubclass(annotation, enum.Enum | str | uuid.UUID):
            return StringType()
        if issubclass(annotation, int):
            # JSON integers are unbounded; the contract's bounds are checked separately.
            return LongType()
        if issubclass(annotation, float):
            return DoubleType()
    raise TypeError(f"cannot map field type {annotation!r} to a Spark type")


def java_anchored(pattern: str) -> str:
    """A JSON Schema pattern as a Java regex with the same meaning.

    ``$`` in Java (and Python) also matches before a final newline; JSON Schema and
    pydantic's regex engine do not, so ``"DL402\\n"`` must fail. ``\\z`` is the true end.
    """
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern[:-1] + r"\z"
    return pattern


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline a ``$ref`` into ``$defs`` (pydantic puts enums there)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target = defs[ref.rsplit("/", 1)[-1]]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


@cache
def event_fields() -> tuple[FieldSpec, ...]:
    """Every contract field, in contract order, with its Spark type and checks."""
    document = FlightEvent.model_json_schema()
    defs = document.get("$defs", {})
    properties = document["properties"]
    required = set(document.get("required", []))
    specs = []
    for name, field in FlightEvent.model_fields.items():
        if name not in required:
            # Every contract field is required today; an optional one needs a decision
            # about nulls in the aggregation, so make that explicit when it happens.
            raise TypeError(f"optional field {name!r} is not supported by the job yet")
        prop = _resolve(properties[name], defs)
        json_type = prop.get("type")
        if json_type not in ("string", "integer", "number"):
            raise TypeError(f"field {name!r}: unsupported JSON type {json_type!r}")
        pattern = prop.get("pattern")
        specs.append(
            FieldSpec(
                name=name,
                json_type=json_type,
                spark_type=spark_type_for(field.annotation),
                pattern=pattern,
                min_length=prop.get("minLength"),
                max_length=prop.get("maxLength"),
                minimum=prop.get("minimum"),
                exclusive_minimum=prop.get("exclusiveMinimum"),
                maximum=prop.get("maximum"),
                exclusive_maximum=prop.get("exclusiveMaximum"),
                enum=tuple(prop["enum"]) if "enum" in prop else None,
                format=prop.get("format"),
            )
        )
    return tuple(specs)


def event_schema() -> StructType:
    """A validated flight event, typed (the ``event`` column of validated records)."""
    return StructType(
        [StructField(spec.name, spec.spark_type, nullable=False) for spec in event_fields()]
    )


def wire_schema() -> StructType:
    """What ``from_json`` reads: date-times as strings, plus the corrupt-record column."""
    fields = [
        StructField(spec.name, StringType() if spec.is_date_time else spec.spark_type)
        for spec in event_fields()
    ]
    return StructType([*fields, StructField(CORRUPT_RECORD, StringType())])


def diagnostic_schema() -> StructType:
    """Every field as VARIANT, to tell missing from null from the wrong JSON type."""
    fields = [StructField(spec.name, VariantType()) for spec in event_fields()]
    return StructType([*fields, StructField(CORRUPT_RECORD, StringType())])
