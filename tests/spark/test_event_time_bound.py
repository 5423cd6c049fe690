"""An event's time may lie at most ``streaming.maxFutureSkew`` after its Kafka record's.

One event dated far ahead would otherwise move the watermark past every other event, for
good. The job decides from the record alone, so the same records decide the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from tests.spark.frames import record_frame

from airlines.config.types import format_duration
from airlines.contract.event import (
    DEFAULT_MAX_FUTURE_SKEW,
    FlightEvent,
    Region,
    future_time_problem,
)
from airlines.produce.simulator import FleetSimulator
from airlines.stream import validation

SENT = datetime(2026, 12, 7, 9, 30, 15, 250000, tzinfo=UTC)
RECORD = "its Kafka record's timestamp"


def event_at(moment: datetime) -> FlightEvent:
    return FleetSimulator(Region.WEST_COAST, fleet_size=2, seed=3).event_at(moment)


def verdicts(
    spark: SparkSession, events: list[FlightEvent], sent: list[datetime], skew: timedelta
) -> tuple[list[str | None], list[bool]]:
    """Each record's rejection (the full table) and whether the job's own path keeps it."""
    frame = record_frame(spark, [("west", e.to_json()) for e in events], sent_at=sent)
    validated = validation.validate_records(frame, max_future_skew=skew)
    reasons = [r["rejection"] for r in validated.orderBy("offset").collect()]
    for fast_path in (True, False):
        full = validation.validate_records(frame, fast_path=fast_path, max_future_skew=skew)
        assert [r["rejection"] for r in full.orderBy("offset").collect()] == reasons
    kept_ids = {
        str(r["event"]["event_id"])
        for r in validation.gated_events(
            frame, dead_letter_gate=None, max_future_skew=skew
        ).collect()
    }
    return reasons, [str(e.event_id) in kept_ids for e in events]


def test_the_bound_is_inclusive_and_the_reason_names_the_field_the_value_and_the_bound(
    spark: SparkSession,
) -> None:
    skew = DEFAULT_MAX_FUTURE_SKEW
    at_bound = event_at(SENT + skew)
    past_it = event_at(SENT + skew + timedelta(microseconds=1))
    centuries = event_at(datetime(2999, 1, 1, tzinfo=UTC))
    reasons, kept = verdicts(spark, [at_bound, past_it, centuries], [SENT] * 3, skew)
    assert kept == [True, False, False]
    assert reasons[0] is None
    assert reasons[1] == (
        "timestamp: 2026-12-07T10:30:15.250001Z is more than 1h (streaming.maxFutureSkew) "
        f"after {RECORD} 2026-12-07T09:30:15.250Z"
    )
    assert reasons[2] == future_time_problem(centuries.timestamp, SENT, skew, "1h", RECORD)


def test_old_events_stay_allowed(spark: SparkSession) -> None:
    """Historical replays: events years before the record was sent are valid."""
    old = [event_at(datetime(year, 6, 1, 8, 0, tzinfo=UTC)) for year in (1999, 2015, 2024)]
    reasons, kept = verdicts(spark, old, [SENT] * 3, DEFAULT_MAX_FUTURE_SKEW)
    assert reasons == [None, None, None]
    assert kept == [True, True, True]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    skew_s=st.integers(1, 3 * 86400),
    offsets_us=st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=25),
    sent_ms=st.integers(946_684_800_000, 4_102_444_800_000),  # 2000 to 2100
)
def test_the_job_decides_as_the_contract_says(
    spark: SparkSession, skew_s: int, offsets_us: list[int], sent_ms: int
) -> None:
    """For any bound, send time and event time around it: the job's decision and reason
    equal :func:`airlines.contract.event.future_time_problem`'s, on every path."""
    skew = timedelta(seconds=skew_s)
    sent = datetime.fromtimestamp(sent_ms / 1000, UTC)
    # Offsets from the bound itself, so that both sides of it are drawn often.
    edge = [o % 3 - 1 for o in offsets_us[:3]]  # -1, 0 or +1 µs
    moments = [sent + skew + timedelta(microseconds=o) for o in [*edge, *offsets_us]]
    events = [event_at(m) for m in moments]
    reasons, kept = verdicts(spark, events, [sent] * len(events), skew)
    expected = [
        future_time_problem(e.timestamp, sent, skew, format_duration(skew), RECORD) for e in events
    ]
    assert reasons == expected
    assert kept == [r is None for r in expected]
