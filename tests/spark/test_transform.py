"""The job's transformations as pure DataFrame -> DataFrame functions, on batch data."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812
from tests.spark.frames import record_frame

from airlines.contract.event import CROSS_FIELD_RULES, FlightEvent, FlightStatus, Region
from airlines.contract.redis_layout import KeyLayout, WindowAggregate
from airlines.produce.simulator import FleetSimulator
from airlines.stream import dead_letters, validation, windows
from airlines_testkit.bad_records import bad_records
from airlines_testkit.oracle import differences, oracle, parse_valid

pytestmark = pytest.mark.spark

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ROUTES = {"east": "east-coast", "west": "west-coast", "cross": "cross-country"}
REGIONS = {"east": Region.EAST_COAST, "west": Region.WEST_COAST, "cross": Region.CROSS_COUNTRY}


def records(spark: SparkSession, messages: list[tuple[str, bytes | None]]) -> DataFrame:
    """A batch DataFrame shaped like the Kafka records the job validates."""
    return record_frame(spark, messages)


def simulated(
    count: int, seed: int = 7, spread: timedelta = timedelta(minutes=12)
) -> list[tuple[str, bytes | None]]:
    rng = random.Random(seed)
    sims = {t: FleetSimulator(r, fleet_size=4, seed=seed) for t, r in REGIONS.items()}
    messages: list[tuple[str, bytes | None]] = []
    for _ in range(count):
        topic = rng.choice(sorted(sims))
        moment = T0 + timedelta(seconds=rng.randrange(int(spread.total_seconds())))
        messages.append((topic, sims[topic].event_at(moment).to_json()))
    return messages


def template() -> FlightEvent:
    return FleetSimulator(Region.EAST_COAST, fleet_size=2, seed=1).event_at(T0)


def test_every_bad_record_is_rejected_with_its_reason(spark: SparkSession) -> None:
    catalogue = bad_records(template())
    validated = validation.validate_records(
        records(spark, [("east", bad.value) for bad in catalogue])
    )
    reasons = {
        row["offset"]: row["rejection"] for row in validated.select("offset", "rejection").collect()
    }
    for offset, bad in enumerate(catalogue):
        assert reasons[offset] is not None, f"{bad.kind} was accepted"
        assert bad.reason in reasons[offset], f"{bad.kind}: {reasons[offset]!r}"
        # The contract (pydantic, strict) agrees that each of these is invalid.
        assert parse_valid(bad.value) is None, bad.kind


def test_smoke_markers_are_known_by_key_and_header_and_nothing_else_is_hidden(
    spark: SparkSession,
) -> None:
    from airlines.contract.smoke import SMOKE_HEADER, SMOKE_KEY

    event = template().to_json()
    sent = datetime(2026, 12, 7, 9, 0, 0, 123000, tzinfo=UTC)
    header = [(SMOKE_HEADER, b"1")]
    rows = [
        (SMOKE_KEY, b"smoke marker, not an event", "east", 0, 0, sent, header),
        (None, event, "east", 0, 1, sent, None),
        (b"DL1", event, "east", 0, 2, sent, None),
        (SMOKE_KEY, event, "east", 0, 3, sent, None),  # the key alone
        (SMOKE_KEY, event, "east", 0, 4, sent, [("other", b"1")]),
        (b"DL1", event, "east", 0, 5, sent, header),  # the header alone
    ]
    kafka = spark.createDataFrame(
        rows,
        "key binary, value binary, topic string, partition int, offset long, "
        "timestamp timestamp, headers array<struct<key: string, value: binary>>",
    )
    kept = validation.kafka_records(kafka).collect()
    assert sorted(row["offset"] for row in kept) == [1, 2, 3, 4, 5]
    # The record's own time goes on, under a name no event field has.
    assert {row[validation.RECORD_TIME].astimezone(UTC) for row in kept} == {sent}


def test_valid_events_pass_with_their_values(spark: SparkSession) -> None:
    messages = simulated(50)
    validated = validation.validate_records(records(spark, messages))
    rows = validated.orderBy("offset").collect()
    assert [r["rejection"] for r in rows] == [None] * len(messages)
    for (_, value), row in zip(messages, rows, strict=True):
        assert value is not None
        event = FlightEvent.from_json(value)
        got = row["event"].asDict()
        want = event.model_dump(mode="json")
        for name in ("flight_id", "airline", "passenger_count", "ticket_price", "delay_minutes"):
            assert got[name] == want[name]
        assert got["event_id"] == str(event.event_id)
        assert got["flight_status"] == event.flight_status.value
        # Spark hands timestamps to Python as naive local time; compare instants.
        assert got["timestamp"].astimezone(UTC) == event.timestamp


def test_cross_field_rules_sql_and_python_agree(spark: SparkSession) -> None:
    base = template()
    cases = []
    for delay, status, arrival_offset in itertools.product(
        (0, 14, 15, 16, 90), FlightStatus, (-60, 0, 1, 120)
    ):
        cases.append(
            base.model_copy(
                update={
                    "delay_minutes": delay,
                    "flight_status": status,
                    "scheduled_arrival": base.scheduled_departure
                    + timedelta(minutes=arrival_offset),
                }
            )
        )
    frame = spark.createDataFrame(
        [
            (e.scheduled_departure, e.scheduled_arrival, e.flight_status.value, e.delay_minutes)
            for e in cases
        ],
        "scheduled_departure timestamp, scheduled_arrival timestamp, "
        "flight_status string, delay_minutes long",
    )
    sql = frame.select(*[F.expr(rule.sql).alias(rule.name) for rule in CROSS_FIELD_RULES])
    for event, row in zip(cases, sql.collect(), strict=True):
        for rule in CROSS_FIELD_RULES:
            assert row[rule.name] == rule.check(event), (rule.name, event)
    # Both outcomes occur, so the comparison means something.
    for rule in CROSS_FIELD_RULES:
        assert {rule.check(e) for e in cases} == {True, False}


def test_enrich_maps_topics_to_routes_and_event_time(spark: SparkSession) -> None:
    messages = simulated(12)
    events = validation.valid_events(validation.validate_records(records(spark, messages)))
    enriched = windows.enrich(events, ROUTES).collect()
    assert sorted(r["route_name"] for r in enriched) == sorted(ROUTES[t] for t, _ in messages)
    for row in enriched:
        assert row["event_time"] == row["timestamp"]


@pytest.mark.parametrize("slide", [None, timedelta(minutes=1)], ids=["tumbling", "sliding"])
def test_aggregation_matches_the_oracle(spark: SparkSession, slide: timedelta | None) -> None:
    messages = simulated(400, seed=11)
    messages += [("west", bad.value) for bad in bad_records(template())]
    # The same event sent again (a replayed file, a producer resending): it counts once.
    messages += messages[:40:3]
    window, watermark = timedelta(minutes=5), timedelta(minutes=1)
    validated = validation.validate_records(records(spark, messages))
    aggregated = windows.sink_rows(
        windows.aggregate_windows(
            windows.distinct_on_time_events(
                windows.enrich(validation.valid_events(validated), ROUTES), watermark=watermark
            ),
            window=window,
            slide=slide,
        )
    )
    layout = KeyLayout("t")
    actual = {}
    for row in aggregated.collect():
        aggregate = WindowAggregate(
            route=row["route_name"],
            **{k: row[k] for k in row.asDict() if k != "route_name"},
        )
        actual[layout.window(aggregate.route, aggregate.flight_id, aggregate.window_start_ms)] = (
            aggregate.to_hash()
        )
    # One batch: nothing is late.
    expected = oracle([messages], ROUTES, layout, window=window, slide=slide, watermark=watermark)
    assert expected.late_events == expected.closed_window_rows == 0
    assert expected.duplicates == len(messages[:40:3]) == 14
    assert expected.rejected == len(bad_records(template()))
    assert expected.aggregated_events == 400
    assert differences(expected.windows, actual) == []
    assert len(actual) > 20


def test_dead_letters_keep_the_original_bytes_and_say_why(spark: SparkSession) -> None:
    catalogue = bad_records(template())
    validated = validation.validate_records(
        records(spark, [("east", bad.value) for bad in catalogue])
    )
    messages = dead_letters.dead_letter_messages(validation.rejected_records(validated)).collect()
    assert len(messages) == len(catalogue)
    by_offset = {}
    for message in messages:
        headers = {h["key"]: bytes(h["value"]).decode() for h in message["headers"]}
        assert headers[dead_letters.HEADER_SOURCE_TOPIC] == "east"
        assert headers[dead_letters.HEADER_SOURCE_PARTITION] == "0"
        by_offset[int(headers[dead_letters.HEADER_SOURCE_OFFSET])] = (message, headers)
    for offset, bad in enumerate(catalogue):
        message, headers = by_offset[offset]
        value = message["value"]
        assert (bytes(value) if value is not None else None) == bad.value
        assert bad.reason in headers[dead_letters.HEADER_REASON]


def test_the_job_session_plans_and_generates_code_the_jvm_can_run_fast(
    spark: SparkSession,
) -> None:
    """Each micro-batch is optimized afresh; inferring constraints over the validation's
    expressions costs the driver 10-14 s per analytics batch, and whole-stage code with
    methods past HotSpot's JIT limit runs interpreted, 3x slower (profiled with JFR)."""
    from airlines.stream.session import CONSTRAINT_PROPAGATION, HUGE_METHOD_LIMIT

    assert spark.conf.get(CONSTRAINT_PROPAGATION) == "false"
    assert spark.conf.get(HUGE_METHOD_LIMIT) == "8000"
    valid = validation.valid_events(
        validation.validate_records(records(spark, [("east", b"{}")] * 2))
    )
    # Nothing is inferred anywhere in the plan the job runs.
    assert valid._jdf.queryExecution().optimizedPlan().constraints().isEmpty()


def test_the_local_jvm_runs_the_serial_collector_compiles_only_hot_code_and_writes_plain_shuffle(
    spark: SparkSession,
) -> None:
    """The flags reach the JVM the session launched, not only its configuration."""
    from airlines.stream.session import LOCAL_JVM_OPTIONS, SHUFFLE_COMPRESS

    jvm = spark.sparkContext._jvm
    assert jvm is not None
    management = jvm.java.lang.management.ManagementFactory
    collectors = {bean.getName() for bean in management.getGarbageCollectorMXBeans()}
    assert collectors == {"Copy", "MarkSweepCompact"}  # the serial collector's two
    hotspot = management.getPlatformMXBean(
        jvm.java.lang.Class.forName("com.sun.management.HotSpotDiagnosticMXBean")
    )
    for flag in LOCAL_JVM_OPTIONS.split():
        if "=" in flag:
            name, value = flag.removeprefix("-XX:").split("=")
            assert hotspot.getVMOption(name).getValue() == value, name
    # The shuffle's writers read their setting from the executors' environment.
    assert not jvm.org.apache.spark.SparkEnv.get().conf().getBoolean(SHUFFLE_COMPRESS, True)


def test_a_value_past_the_size_bound_is_rejected_unread(spark: SparkSession) -> None:
    """Up to 1 MiB a record is judged as any other (an unknown field is ignored); past it,
    by its size alone, whatever it holds (it arrived compressed)."""
    from airlines.contract.event import MAX_RECORD_BYTES

    event = template().to_json()

    def padded(size: int) -> bytes:
        head = event[:-1] + b',"x_padding":"'
        return head + b"x" * (size - len(head) - 2) + b'"}'

    values = [padded(MAX_RECORD_BYTES), padded(MAX_RECORD_BYTES + 1), b"{" * (3 * MAX_RECORD_BYTES)]
    for fast_path in (True, False):
        validated = validation.validate_records(
            records(spark, [("east", v) for v in values]), fast_path=fast_path
        )
        reasons = [r["rejection"] for r in validated.orderBy("offset").collect()]
        bound = f"more than the {MAX_RECORD_BYTES} a record may have"
        assert reasons == [
            None,
            f"value: {MAX_RECORD_BYTES + 1} bytes, {bound}",
            f"value: {3 * MAX_RECORD_BYTES} bytes, {bound}",
        ]
