"""Property: the validation's fast path changes what a record costs, never its verdict.

The job reads each record once in the JVM (:data:`airlines.stream.jvm.READ_EVENT`): a
record in the producers' own form is checked on the way, any other is left to the full
validation. hypothesis draws events anywhere in the contract (and just outside it),
written the producers' way and every other way JSON allows (whitespace, other key
orders, escapes, unknown keys, integers for numbers, other date-time spellings), mixed
with the hostile catalogue. For every record:

* the verdict with the fast path equals the full validation's alone: the same
  rejection, byte for byte, or the same event, value for value;
* a record the fast path checked is one the full validation accepts, or rejects for a
  broken cross-field rule only (those are judged after the fields, on either path).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812
from tests.spark.frames import record_frame

from airlines.contract.event import CROSS_FIELD_RULES, DELAYED_FROM_MINUTES, FlightEvent, Region
from airlines.produce.simulator import FleetSimulator
from airlines.stream import validation
from airlines_testkit.bad_records import bad_records
from airlines_testkit.hostile import hostile_record

pytestmark = pytest.mark.spark

#: What a record the fast path checked can still break: the cross-field rules, and the
#: bound on how far its time lies ahead of its record's (a reason starting "timestamp:").
_RULES = {rule.name for rule in CROSS_FIELD_RULES} | {"timestamp"}

#: Characters that JSON escapes or that take several UTF-8 bytes (and, for Java, two
#: chars), beside ordinary ones.
_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from('"\\/\n\t\x00\x1f\x7fé€😀\u2028 '),
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz 0123456789-"),
    ),
    min_size=0,
    max_size=70,
)
_OFFSETS = st.sampled_from([0, 60, -300, 330, 14 * 60, -(12 * 60), 18 * 60, -(18 * 60)])


@st.composite
def date_times(draw: st.DrawFn) -> str:
    """RFC 3339 date-times, spelled as producers write them and in the other ways."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    offset = timedelta(minutes=draw(_OFFSETS))
    moment = moment.replace(tzinfo=timezone(offset))
    digits = draw(st.integers(0, 6))
    text = (
        moment.strftime("%Y-%m-%d") + draw(st.sampled_from("TTTt ")) + moment.strftime("%H:%M:%S")
    )
    if digits:
        text += "." + f"{moment.microsecond:06d}"[:digits]
    if offset == timedelta(0) and draw(st.booleans()):
        return text + draw(st.sampled_from("Zz"))
    return text + moment.strftime("%z")[:3] + ":" + moment.strftime("%z")[3:]


@st.composite
def event_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Contract fields, mostly valid, sometimes just outside a bound or a rule."""
    delay = draw(st.integers(-1, 24 * 60 + 1))
    delayed = delay >= DELAYED_FROM_MINUTES
    if draw(st.integers(0, 9)) == 0:
        delayed = not delayed  # breaks status_matches_delay
    event_id = str(draw(st.uuids()))
    return {
        "event_id": event_id.upper() if draw(st.booleans()) else event_id,
        "flight_id": draw(st.from_regex(r"[A-Z0-9]{2}[0-9]{1,4}|[a-z]{2}[0-9]{5}", fullmatch=True)),
        "airline": draw(_TEXT),
        "aircraft_type": draw(_TEXT),
        "departure_airport": draw(st.from_regex(r"[A-Z]{3}|[A-Za-z]{2,4}", fullmatch=True)),
        "departure_city": draw(_TEXT),
        "arrival_airport": draw(st.from_regex(r"[A-Z]{3}", fullmatch=True)),
        "arrival_city": draw(_TEXT),
        "scheduled_departure": draw(date_times()),
        "scheduled_arrival": draw(date_times()),
        "passenger_count": draw(st.integers(-1, 1001)),
        "ticket_price": draw(
            st.one_of(
                st.floats(min_value=-1, max_value=100_001, allow_nan=False),
                st.integers(1, 100_000),
                st.sampled_from([0.0, 100_000.0, 5e-324, 0.1, 1e-7, 1e16]),
            )
        ),
        "delay_minutes": delay,
        "flight_status": "delayed" if delayed else draw(st.sampled_from(["on-time", "late"])),
        "route_type": draw(st.sampled_from([r.value for r in Region] + ["north"])),
        "timestamp": draw(date_times()),
    }


@st.composite
def written(draw: st.DrawFn) -> bytes:
    """Fields written as JSON: the producers' way (orjson, contract order) or another."""
    fields = draw(event_fields())
    way = draw(st.sampled_from(["producers", "spaces", "ascii", "order", "extra", "pretty"]))
    if way == "producers":
        return orjson.dumps(fields)
    if way == "order":
        names = draw(st.permutations(list(fields)))
        return json.dumps({n: fields[n] for n in names}, ensure_ascii=False).encode()
    if way == "extra":
        fields = {**fields, "x_extra": draw(st.sampled_from([1, "a", None, [1, {"b": 2}]]))}
        return orjson.dumps(fields)
    if way == "pretty":
        return json.dumps(fields, indent=1, ensure_ascii=False).encode()
    return json.dumps(fields, ensure_ascii=way == "ascii").encode()


_SIM = FleetSimulator(Region.EAST_COAST, fleet_size=12, seed=11)
_T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
_VALID = [_SIM.event_at(_T0 + timedelta(seconds=7 * i)).to_json() for i in range(50)]


@st.composite
def traffic(draw: st.DrawFn) -> list[bytes | None]:
    rng: random.Random = draw(st.randoms(use_true_random=False))
    values: list[bytes | None] = draw(st.lists(written(), min_size=1, max_size=60))
    for _ in range(draw(st.integers(0, 20))):
        values.append(hostile_record(rng.choice(_VALID), rng)[1])
    values += rng.sample(_VALID, 5)
    return values


def _frame(spark: SparkSession, values: Sequence[bytes | None]) -> DataFrame:
    return record_frame(spark, [("east", v) for v in values])


def _verdicts(records: DataFrame, *, fast_path: bool) -> dict[int, tuple[str | None, Any]]:
    validated = validation.validate_records(records, fast_path=fast_path)
    # Events as JSON text: every value, to the last bit of a double and microsecond.
    out = validated.select("offset", "rejection", F.to_json("event").alias("event"))
    return {r["offset"]: (r["rejection"], r["event"]) for r in out.collect()}


def _assert_one_verdict(spark: SparkSession, values: Sequence[bytes | None]) -> None:
    records = _frame(spark, values).cache()
    fast = _verdicts(records, fast_path=True)
    full = _verdicts(records, fast_path=False)
    checked = {
        r["offset"]: r[validation.FAST_PATH_CHECKED]
        for r in validation.parse_records(records)
        .select("offset", validation.FAST_PATH_CHECKED)
        .collect()
    }
    records.unpersist()
    for offset, value in enumerate(values):
        assert fast[offset] == full[offset], (
            f"{value!r}: fast path {fast[offset]}, full {full[offset]}"
        )
        reason = full[offset][0]
        if checked[offset] and reason is not None:  # only the cross-field rules are left
            broken = {problem.split(":")[0] for problem in reason.split("; ")}
            assert broken <= _RULES, f"{value!r} checked, but {reason}"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=traffic())
def test_the_fast_path_never_changes_a_verdict(
    spark: SparkSession, values: list[bytes | None]
) -> None:
    _assert_one_verdict(spark, values)


def test_the_producers_records_take_the_fast_path(spark: SparkSession) -> None:
    """What the simulator sends is in the producers' form: every record is checked."""
    records = _frame(spark, list(_VALID))
    checked = validation.parse_records(records).where(F.col(validation.FAST_PATH_CHECKED))
    assert checked.count() == len(_VALID)


def test_the_catalogue_of_bad_records_keeps_its_reasons(spark: SparkSession) -> None:
    template = FlightEvent.from_json(_VALID[0])
    catalogue = bad_records(template)
    _assert_one_verdict(spark, [bad.value for bad in catalogue])


def test_date_times_read_by_the_fast_path_equal_sparks_cast(spark: SparkSession) -> None:
    """Edge instants: the epoch, leap days, the ends of the years Spark holds, offsets."""
    base = orjson.loads(_VALID[0])
    values = []
    for moment in (
        "1970-01-01T00:00:00+00:00",
        "1969-12-31T23:59:59.999999+00:00",
        "2024-02-29T12:00:00.5+01:00",
        "2023-02-29T12:00:00+00:00",
        "0001-01-01T00:00:00+00:00",
        "9999-12-31T23:59:59.999999+00:00",
        "2026-06-30T23:59:60+00:00",
        "2026-06-30T24:00:00+00:00",
        "2026-01-01T00:00:00+18:00",
        "2026-01-01T00:00:00-18:00",
        "2026-01-01T00:00:00+18:01",
        "2026-01-01T00:00:00+05:60",
        "2026-01-01T00:00:00.1234567+00:00",
        "2026-13-01T00:00:00+00:00",
    ):
        values.append(orjson.dumps({**base, "timestamp": moment, "event_id": str(uuid.uuid4())}))
    _assert_one_verdict(spark, values)
