"""An independent oracle of the window analytics.

The oracle recomputes, in plain Python from the events a test produced, what the job
must have written to Redis. It shares nothing with the job's Spark code: validity is
pydantic's strict validation of :class:`FlightEvent`, windows and lateness follow
Spark's documented semantics (windows aligned to the epoch; an event is late when its
time is at or before the watermark, which is the highest event time of the earlier
micro-batches minus the allowed delay; a repeated ``event_id`` counts once).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson
from pydantic import ValidationError

from airlines.contract.event import (
    DEFAULT_MAX_FUTURE_SKEW,
    MAX_RECORD_BYTES,
    FlightEvent,
    FlightStatus,
)
from airlines.contract.redis_layout import KeyLayout


def parse_valid(value: bytes | None) -> FlightEvent | None:
    """The event if ``value`` satisfies the contract as the job reads it, else None.

    A value past :data:`airlines.contract.event.MAX_RECORD_BYTES` is never an event.

    Strict JSON (no key given twice at any depth, no NaN or Infinity, nothing after the
    object), one object whose contract fields pass pydantic's strict validation; keys
    the contract does not know are ignored (the job is a tolerant reader of those).
    """
    if value is None or len(value) > MAX_RECORD_BYTES:
        return None

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("a key given twice")
        return dict(pairs)

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        data = json.loads(value, object_pairs_hook=unique, parse_constant=no_constants)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError too
        return None
    if not isinstance(data, dict):
        return None
    known = {k: v for k, v in data.items() if k in FlightEvent.model_fields}
    try:
        return FlightEvent.model_validate_json(orjson.dumps(known), strict=True)
    except (ValidationError, orjson.JSONEncodeError):
        return None


def _us(moment: datetime) -> int:
    # Exact integer arithmetic: microseconds since the epoch.
    delta = moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    return delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds


def _ms(moment: datetime) -> int:
    return _us(moment) // 1000


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
class PhaseFigures:
    """Where one phase's (micro-batch's) records went: what the job logs per batch."""

    records: int = 0
    aggregated: int = 0
    late: int = 0
    duplicates: int = 0
    rejected: int = 0
    markers: int = 0


@dataclass
class OracleResult:
    """What the job must have written, and where every other record went.

    ``aggregated_events + late_events + duplicates + rejected + markers`` is every record.
    """

    windows: dict[str, ExpectedWindow]
    aggregated_events: int
    late_events: int
    duplicates: int
    rejected: int
    markers: int = 0
    #: Sliding windows only: windows of on-time events that had already closed.
    closed_window_rows: int = 0
    #: The same figures per phase, in phase order.
    phases: list[PhaseFigures] = field(default_factory=list)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class OracleRecord(NamedTuple):
    """A record as the oracle takes it (a plain ``(topic, value)`` pair will do)."""

    topic: str
    value: bytes | None
    #: The Kafka record's timestamp (ms): the bound on event times is checked when given.
    timestamp_ms: int | None = None
    #: A smoke marker (``airlines smoke``): counted as one, never judged.
    marker: bool = False


def oracle(
    phases: Sequence[Sequence[OracleRecord | tuple[str, bytes | None]]],
    routes: Mapping[str, str],
    layout: KeyLayout,
    *,
    window: timedelta,
    slide: timedelta | None,
    watermark: timedelta,
    max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW,
) -> OracleResult:
    """Expected Redis window hashes after the job processed ``phases``.

    ``phases`` are Spark's micro-batches in order, no-data batches included (empty),
    each a list of :class:`OracleRecord` (or (topic, value) pairs): :func:`batch_phases`
    reads them from the query's offset log. A valid event more than ``max_future_skew``
    after its record's timestamp is rejected (records without a timestamp are not
    checked); a smoke marker is counted as one.

    The watermark of batch ``n`` is the highest event time of the batches before it
    minus ``watermark``. Spark (3.4+) drops late rows against the watermark of the
    *previous* batch (the current one only evicts state), so a record of batch ``n``
    is late when its event time is at or before the highest event time of batches
    ``0..n-2`` minus ``watermark``.

    Per record, in this order: not a valid event -> rejected; late -> late; an
    ``event_id`` seen before -> duplicate; else aggregated in each of its windows that
    has not closed (ended at or before that same watermark).
    """
    window_ms = _ms_of(window)
    slide_ms = _ms_of(slide) if slide is not None else window_ms
    delay_ms = _ms_of(watermark)
    windows: dict[str, ExpectedWindow] = {}
    seen: set[uuid.UUID] = set()
    # Highest event time of the batches before the previous one, and of the previous one.
    max_before_previous: int | None = None
    max_event_ms: int | None = None
    closed = 0
    figures: list[PhaseFigures] = []
    for phase in phases:
        late_from = max_before_previous
        watermark_ms = late_from - delay_ms if late_from is not None else None
        max_before_previous = max_event_ms
        phase_max = max_event_ms
        counts = PhaseFigures(records=len(phase))
        figures.append(counts)
        for pair in phase:
            record = pair if isinstance(pair, OracleRecord) else OracleRecord(*pair)
            topic, stamp = record.topic, record.timestamp_ms
            if record.marker:
                counts.markers += 1
                continue
            event = parse_valid(record.value)
            if event is None or (
                stamp is not None
                and event.timestamp > _EPOCH + timedelta(milliseconds=stamp) + max_future_skew
            ):
                counts.rejected += 1
                continue
            event_ms = _ms(event.timestamp)
            # The watermark tracks every valid event, the late and repeated ones too.
            phase_max = event_ms if phase_max is None else max(phase_max, event_ms)
            # Spark compares microseconds with the watermark's milliseconds.
            if watermark_ms is not None and _us(event.timestamp) <= watermark_ms * 1000:
                counts.late += 1
                continue
            if event.event_id in seen:
                counts.duplicates += 1
                continue
            seen.add(event.event_id)
            counts.aggregated += 1
            for start in window_starts(event_ms, window_ms, slide_ms):
                end = start + window_ms
                if watermark_ms is not None and end <= watermark_ms:
                    closed += 1
                    continue
                route = routes[topic]
                key = layout.window(route, event.flight_id, start)
                expected = windows.setdefault(
                    key, ExpectedWindow(route, event.airline, event.flight_id, start, end)
                )
                # One flight, one window: its events' airline names, the first in order.
                expected.airline = min(expected.airline, event.airline)
                expected.event_count += 1
                expected.total_passengers += event.passenger_count
                expected.delayed_count += event.flight_status is FlightStatus.DELAYED
                expected.ticket_prices.append(event.ticket_price)
                expected.delays.append(event.delay_minutes)
        max_event_ms = phase_max
    return OracleResult(
        windows,
        aggregated_events=sum(f.aggregated for f in figures),
        late_events=sum(f.late for f in figures),
        duplicates=sum(f.duplicates for f in figures),
        rejected=sum(f.rejected for f in figures),
        markers=sum(f.markers for f in figures),
        closed_window_rows=closed,
        phases=figures,
    )


def config_oracle(
    config: Any, phases: Sequence[Sequence[OracleRecord | tuple[str, bytes | None]]]
) -> OracleResult:
    """:func:`oracle` of ``phases`` with a config's routes, key layout, windows, watermark
    and bound on event times: what the job running with ``config`` must have written."""
    streaming = config.streaming
    return oracle(
        phases,
        {t.name: t.route_name for t in config.topics},
        KeyLayout(config.redis.key_prefix),
        window=streaming.window,
        slide=streaming.slide,
        watermark=streaming.watermark,
        max_future_skew=streaming.max_future_skew,
    )


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
