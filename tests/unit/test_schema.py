"""The Spark schemas and field checks are derived from the contract, not written twice."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import pytest
from pydantic import AwareDatetime
from pyspark.sql.types import DoubleType, LongType, StringType, TimestampType, VariantType

from airlines.contract.event import FlightEvent, Region
from airlines.stream.schema import (
    CORRUPT_RECORD,
    diagnostic_schema,
    event_fields,
    event_schema,
    java_anchored,
    spark_type_for,
    wire_schema,
)


def test_every_contract_field_is_in_the_schemas_in_order() -> None:
    names = list(FlightEvent.model_fields)
    assert [f.name for f in event_schema().fields] == names
    assert [f.name for f in wire_schema().fields] == [*names, CORRUPT_RECORD]
    assert [f.name for f in diagnostic_schema().fields] == [*names, CORRUPT_RECORD]
    assert all(isinstance(f.dataType, VariantType) for f in diagnostic_schema().fields[:-1])


def test_types_follow_the_annotations() -> None:
    types = {f.name: f.dataType for f in event_schema().fields}
    assert types["timestamp"] == TimestampType()
    assert types["scheduled_arrival"] == TimestampType()
    assert types["passenger_count"] == LongType()
    assert types["ticket_price"] == DoubleType()
    assert types["event_id"] == StringType()
    assert types["route_type"] == StringType()
    # Date-times are read as text first, so the job can insist on an offset.
    wire = {f.name: f.dataType for f in wire_schema().fields}
    assert wire["timestamp"] == StringType()


def test_checks_come_from_the_json_schema() -> None:
    specs = {s.name: s for s in event_fields()}
    schema = FlightEvent.model_json_schema()["properties"]
    assert specs["flight_id"].pattern == schema["flight_id"]["pattern"]
    assert specs["passenger_count"].minimum == 0
    assert specs["passenger_count"].maximum == 1000
    assert specs["ticket_price"].exclusive_minimum == 0
    assert specs["airline"].max_length == schema["airline"]["maxLength"]
    assert specs["route_type"].enum == tuple(r.value for r in Region)
    assert specs["event_id"].format == "uuid"
    assert specs["timestamp"].is_date_time


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (str, StringType()),
        (uuid.UUID, StringType()),
        (Region, StringType()),
        (int, LongType()),
        (float, DoubleType()),
        (datetime, TimestampType()),
        (AwareDatetime, TimestampType()),
    ],
)
def test_spark_type_for(annotation: object, expected: object) -> None:
    assert spark_type_for(annotation) == expected


@pytest.mark.parametrize("annotation", [bool, list[int], dict, bytes])
def test_unmapped_types_fail_loudly(annotation: object) -> None:
    with pytest.raises(TypeError, match=r"cannot map|not supported"):
        spark_type_for(annotation)


def test_patterns_are_anchored_at_the_true_end() -> None:
    pattern = java_anchored("^[A-Z]{3}$")
    assert pattern == r"^[A-Z]{3}\z"
    assert java_anchored(r"^a\$") == r"^a\$"
    # Python's re knows \Z (same meaning as Java's \z): the anchored form rejects "JFK\n".
    python_form = pattern.replace(r"\z", r"\Z")
    assert re.search(python_form, "JFK")
    assert not re.search(python_form, "JFK\n")
    assert re.search("^[A-Z]{3}$", "JFK\n")  # why the rewrite is needed
