"""Test support for the streaming job: bad-record catalogue and an independent oracle.

The oracle recomputes, in plain Python from the events a test produced, what the job
must have written to Redis. It shares nothing with the job's Spark code: validity is
pydantic's strict validation of :class:`FlightEvent`, windows and lateness follow
Spark's documented semantics (windows aligned to the epoch; a row is dropped as late
when its window ended at or before the watermark, which is the highest event time of
the earlier micro-batches minus the allowed delay).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from airlines.contract import FlightEvent, FlightStatus
from airlines.jobs.layout import KeyLayout


@dataclass(frozen=True)
class BadRecord:
    """A record the job must dead-letter, and a fragment its reason must contain."""

    kind: str
    value: bytes | None
    reason: str


def _json(event: FlightEvent, **changes: Any) -> bytes:
    data = orjson.loads(event.to_json())
    for name, value in changes.items():
        if value is ...:
            data.pop(name)
        else:
            data[name] = value
    return orjson.dumps(data)


def bad_records(template: FlightEvent) -> list[BadRecord]:
    """One record of every kind of problem, built from a valid ``template`` event."""
    good = template.to_json()
    ts = template.timestamp
    return [
        BadRecord("null value (tombstone)", None, "empty message"),
        BadRecord("empty value", b"", "not a JSON object"),
        BadRecord("bytes that are not UTF-8", b"\xff\xfe" + good, "not valid UTF-8"),
        BadRecord("JSON array", b"[1, 2, 3]", "not a JSON object"),
        BadRecord("JSON number", b"42", "not a JSON object"),
        BadRecord("not JSON at all", b"departure at noon", "not a JSON object"),
        BadRecord("truncated JSON", good[: len(good) // 2], "not valid JSON"),
        BadRecord("trailing garbage", good + b" extra", "not valid JSON"),
        BadRecord(
            "missing field",
            _json(template, passenger_count=...),
            "passenger_count: required field is missing",
        ),
        BadRecord("null field", _json(template, ticket_price=None), "ticket_price: is null"),
        BadRecord(
            "string for an integer",
            _json(template, passenger_count="150"),
            "passenger_count: expected a JSON integer, got string",
        ),
        BadRecord(
            "fraction for an integer",
            _json(template, delay_minutes=12.5),
            "delay_minutes: expected a JSON integer",
        ),
        BadRecord(
            "string for a number",
            _json(template, ticket_price="cheap"),
            "ticket_price: expected a JSON number, got string",
        ),
        BadRecord(
            "below minimum",
            _json(template, passenger_count=-1),
            "passenger_count: -1 must be >= 0",
        ),
        BadRecord(
            "above maximum", _json(template, delay_minutes=1441), "delay_minutes: 1441 must be <="
        ),
        BadRecord("not above exclusive minimum", _json(template, ticket_price=0), "must be > 0"),
        BadRecord("pattern", _json(template, flight_id="dl402"), 'flight_id: "dl402" does not'),
        BadRecord(
            "pattern with a trailing newline", _json(template, flight_id="DL402\n"), "flight_id:"
        ),
        BadRecord("enum", _json(template, flight_status="late"), 'flight_status: "late" is not'),
        BadRecord("not a uuid", _json(template, event_id="not-a-uuid"), "event_id:"),
        BadRecord(
            "date-time without offset",
            _json(template, timestamp=ts.replace(tzinfo=None).isoformat()),
            "timestamp:",
        ),
        BadRecord(
            "impossible date",
            _json(template, timestamp="2024-02-30T10:00:00Z"),
            'timestamp: "2024-02-30T10:00:00Z" is not a valid date-time',
        ),
        BadRecord("empty string", _json(template, airline=""), 'airline: "" is shorter than 1'),
        BadRecord("too long", _json(template, aircraft_type="x" * 33), "aircraft_type:"),
        BadRecord(
            "arrival before departure",
            _json(
                template,
                scheduled_arrival=(template.scheduled_departure - timedelta(hours=1)).isoformat(),
            ),
            "arrival_after_departure",
        ),
        BadRecord(
            "status contradicts delay",
            _json(template, delay_minutes=45, flight_status=FlightStatus.ON_TIME.value),
            "status_matches_delay",
        ),
    ]


def parse_valid(value: bytes | None) -> FlightEvent | None:
    """The event if ``value`` satisfies the contract (pydantic, strict types), else None."""
    if value is None:
        return None
    try:
        return FlightEvent.model_validate_json(value, strict=True)
    except ValidationError:
        return None


# -- the oracle ------------------------------------------------------------------------------


def _ms(moment: datetime) -> int:
    # Exact integer arithmetic: microseconds since the epoch, floored to milliseconds.
    delta = moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    return (delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds) // 1000


def window_starts(event_ms: int, window_ms: int, slide_ms: int) -> list[int]:
    """Starts of the windows (aligned to the epoch) that contain ``event_ms``."""
    last = event_ms - event_ms % slide_ms
    starts = []
    start = last
    while start > event_ms - window_ms:
        starts.append(start)
        start -= slide_ms
    return sorted(starts)


@dataclass
class ExpectedWindow:
    """What one window hash must hold (everything but the batch's time and id)."""

    route: str
    airline: str
    flight_id: str
    window_start_ms: int
    window_end_ms: int
    event_count: int = 0
    total_passengers: int = 0
    delayed_count: int = 0
    ticket_prices: list[float] = field(default_factory=list)
    delays: list[int] = field(default_factory=list)

    @property
    def avg_ticket_price(self) -> float:
        return math.fsum(self.ticket_prices) / self.event_count

    @property
    def avg_delay_minutes(self) -> float:
        return sum(self.delays) / self.event_count

    @property
    def delayed_share(self) -> float:
        return self.delayed_count / self.event_count


@dataclass
class OracleResult:
    windows: dict[str, ExpectedWindow]
    aggregated_events: int
    late_rows: int
    rejected: int


def oracle(
    phases: Sequence[Sequence[tuple[str, bytes | None]]],
    routes: Mapping[str, str],
    layout: KeyLayout,
    *,
    window: timedelta,
    slide: timedelta | None,
    watermark: timedelta,
) -> OracleResult:
    """Expected Redis window hashes after each phase was processed as one micro-batch.

    ``phases`` are lists of (topic, message value); each phase must have been fully
    processed (and the watermark advanced past it) before the next was produced.
    """
    window_ms = _ms_of(window)
    slide_ms = _ms_of(slide) if slide is not None else window_ms
    delay_ms = _ms_of(watermark)
    windows: dict[str, ExpectedWindow] = {}
    max_event_ms: int | None = None
    aggregated = late = rejected = 0
    for phase in phases:
        watermark_ms = max_event_ms - delay_ms if max_event_ms is not None else None
        phase_max = max_event_ms
        for topic, value in phase:
            event = parse_valid(value)
            if event is None:
                rejected += 1
                continue
            event_ms = _ms(event.timestamp)
            phase_max = event_ms if phase_max is None else max(phase_max, event_ms)
            counted = False
            for start in window_starts(event_ms, window_ms, slide_ms):
                end = start + window_ms
                if watermark_ms is not None and end <= watermark_ms:
                    late += 1
                    continue
                counted = True
                route = routes[topic]
                key = layout.window(route, event.flight_id, start)
                expected = windows.setdefault(
                    key, ExpectedWindow(route, event.airline, event.flight_id, start, end)
                )
                expected.event_count += 1
                expected.total_passengers += event.passenger_count
                expected.delayed_count += event.flight_status is FlightStatus.DELAYED
                expected.ticket_prices.append(event.ticket_price)
                expected.delays.append(event.delay_minutes)
            aggregated += counted
        max_event_ms = phase_max
    return OracleResult(windows, aggregated, late, rejected)


def _ms_of(duration: timedelta) -> int:
    return round(duration.total_seconds() * 1000)


def differences(
    expected: Mapping[str, ExpectedWindow],
    actual: Mapping[str, Mapping[str, str]],
    tolerance: float = 1e-9,
) -> list[str]:
    """Every way the window hashes in Redis differ from the oracle (empty: identical)."""
    problems = []
    for key in sorted(set(expected) - set(actual)):
        problems.append(f"missing in Redis: {key}")
    for key in sorted(set(actual) - set(expected)):
        problems.append(f"unexpected in Redis: {key} = {dict(actual[key])}")
    for key in sorted(set(expected) & set(actual)):
        want, got = expected[key], actual[key]
        exact: dict[str, Any] = {
            "route": want.route,
            "airline": want.airline,
            "flight_id": want.flight_id,
            "window_start_ms": str(want.window_start_ms),
            "window_end_ms": str(want.window_end_ms),
            "event_count": str(want.event_count),
            "total_passengers": str(want.total_passengers),
            "delayed_count": str(want.delayed_count),
        }
        for name, value in exact.items():
            if got.get(name) != value:
                problems.append(f"{key}.{name}: expected {value}, got {got.get(name)}")
        for name, number in (
            ("avg_ticket_price", want.avg_ticket_price),
            ("avg_delay_minutes", want.avg_delay_minutes),
            ("delayed_share", want.delayed_share),
        ):
            text = got.get(name)
            if text is None or not math.isclose(
                float(text), number, rel_tol=tolerance, abs_tol=tolerance
            ):
                problems.append(f"{key}.{name}: expected {number!r}, got {text}")
    return problems


# -- talking to the real services (integration tests) ----------------------------------------


def produce_messages(
    config: Any, messages: Sequence[tuple[str, bytes | None, bytes | None]]
) -> None:
    """Send (topic, key, value) messages and wait until every one is acknowledged."""
    from confluent_kafka import Producer

    from airlines.producers.publisher import producer_settings

    producer = Producer(producer_settings(config.kafka))
    failures: list[str] = []

    def on_delivery(err: Any, msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    for topic, key, value in messages:
        producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or failures:
        raise RuntimeError(f"{remaining} messages unacknowledged, failures: {failures[:3]}")


def window_hashes(config: Any) -> dict[str, dict[str, str]]:
    """Every window hash under the config's key prefix (SCAN: fine for a test, not a reader)."""
    from airlines.redis_conn import cluster_client

    client = cluster_client(config.redis)
    try:
        keys = sorted(client.scan_iter(match=f"{config.redis.key_prefix}:win:*", count=1000))
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return {str(k): dict(v) for k, v in zip(keys, pipe.execute(), strict=True)}
    finally:
        client.close()


@dataclass(frozen=True)
class LoggedBatch:
    batch_id: int
    input_rows: int
    rows_written: int
    dead_lettered: int
    late_rows: int


def logged_batches(log_text: str) -> list[LoggedBatch]:
    """The per-batch lines ``airlines stream`` logs."""
    import re

    pattern = re.compile(
        r"batch (\d+): (\d+) records in .*?, (\d+) rows written to Redis, "
        r"(\d+) dead-lettered, (\d+) late"
    )
    return [LoggedBatch(*(int(g) for g in match.groups())) for match in pattern.finditer(log_text)]
