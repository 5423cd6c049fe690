"""Property: hostile records mixed into valid traffic are each accepted or rejected with
a reason, exactly as the contract says, never anything else.

hypothesis draws batches of valid events and malformed records of every kind
(:mod:`airlines_testkit.hostile`: truncated and invalid UTF-8, deep nesting, a key given
twice, numbers beyond int64, NaN and Infinity, huge strings, wrong types and shapes,
unknown keys, garbage, text after the object). For every record the job's validation
must agree with the independent reading of the contract
(:func:`airlines_testkit.oracle.parse_valid`): accepted events carry the same values,
rejected ones a reason. In CI the examples are derandomized (the same ones every run).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from tests.spark.frames import record_frame

from airlines.contract.event import Region
from airlines.produce.simulator import FleetSimulator
from airlines.stream import validation
from airlines_testkit.hostile import BUILDERS, hostile_record
from airlines_testkit.oracle import parse_valid

pytestmark = pytest.mark.spark

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
_SIM = FleetSimulator(Region.WEST_COAST, fleet_size=12, seed=3)
VALID = [_SIM.event_at(T0 + timedelta(seconds=i)).to_json() for i in range(200)]


@st.composite
def traffic(draw: st.DrawFn) -> list[tuple[str, bytes | None]]:
    """Valid events with hostile records mixed in (each kind, sometimes)."""
    rng = draw(st.randoms(use_true_random=False))
    size = draw(st.integers(1, 40))
    records: list[tuple[str, bytes | None]] = []
    for _ in range(size):
        valid = rng.choice(VALID)
        records.append(("valid", valid) if rng.random() < 0.4 else hostile_record(valid, rng))
    return records


def _validate(spark: SparkSession, values: list[bytes | None]) -> list[tuple[str | None, Any]]:
    frame = record_frame(spark, [("west", v) for v in values])
    out = validation.validate_records(frame).select("offset", "rejection", "event").collect()
    assert len(out) == len(values)  # nothing dropped, nothing added
    return [(r["rejection"], r["event"]) for r in sorted(out, key=lambda r: r["offset"])]


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=traffic())
def test_every_record_is_accepted_or_rejected_with_a_reason_as_the_contract_says(
    spark: SparkSession, batch: list[tuple[str, bytes | None]]
) -> None:
    results = _validate(spark, [value for _, value in batch])
    for (kind, value), (rejection, event) in zip(batch, results, strict=True):
        expected = parse_valid(value)
        if expected is None:
            assert rejection, (kind, value[:300] if value else value)
            assert len(rejection) < 4000, (kind, rejection[:200])  # reasons stay short
        else:
            assert rejection is None, (kind, rejection, value[:300] if value else value)
            assert event["event_id"] == str(expected.event_id)
            assert event["flight_id"] == expected.flight_id
            assert event["airline"] == expected.airline
            assert event["passenger_count"] == expected.passenger_count
            assert event["ticket_price"] == expected.ticket_price
            assert event["timestamp"].replace(tzinfo=UTC) == expected.timestamp  # session: UTC


def test_every_kind_occurs_and_most_are_rejected() -> None:
    # The catalogue means something: each kind is produced, and only the ones the
    # contract tolerates are ever valid (unknown keys; a key repeated with its value).
    rng = random.Random(5)
    outcomes: dict[str, set[bool]] = {}
    for _ in range(3000):
        kind, value = hostile_record(rng.choice(VALID), rng)
        outcomes.setdefault(kind, set()).add(parse_valid(value) is not None)
    assert set(outcomes) == {*BUILDERS, "tombstone"}
    tolerated = {k for k, seen in outcomes.items() if True in seen}
    assert tolerated <= {"unknown field", "wrong type"}, tolerated
    assert outcomes["unknown field"] == {True}


def test_a_rejected_record_carries_no_event(spark: SparkSession) -> None:
    # Found by the property in CI: a number where the contract wants an ISO timestamp
    # is read by Spark as the year -2435, which no Python datetime can hold; the
    # rejected row's event must be null so that collecting it cannot fail.
    valid = VALID[0]
    time_text = b'"timestamp":"2024-05-01T12:00:00+00:00"'
    number_for_time = valid.replace(time_text, b'"timestamp":-2435')
    assert number_for_time != valid
    [(rejection, event)] = _validate(spark, [number_for_time])
    assert rejection is not None
    assert "timestamp" in rejection, rejection
    assert event is None
    [(rejection, event)] = _validate(spark, [valid])
    assert rejection is None
    assert event["timestamp"].replace(tzinfo=UTC) == T0
