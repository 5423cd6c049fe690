"""A catalogue of bad records: one of every kind of problem the job must dead-letter.

Each is built from a valid event and carries a fragment the dead letter's reason must
contain, so a test checks both that the record was refused and why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from airlines.contract.event import FlightEvent, FlightStatus


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
    return json.dumps(data, separators=(",", ":")).encode()  # orjson stops at 64 bits


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
            "object in a text field",
            _json(template, airline={"name": "Delta"}),
            "airline: expected a JSON string, got object",
        ),
        BadRecord(
            "number in a text field",
            _json(template, aircraft_type=737),
            "aircraft_type: expected a JSON string, got bigint",
        ),
        BadRecord(
            "boolean in a text field",
            _json(template, departure_city=True),
            "departure_city: expected a JSON string, got boolean",
        ),
        BadRecord(
            "integer beyond int64",
            _json(template, passenger_count=2**64 + 1),
            "passenger_count: expected a JSON integer",
        ),
        BadRecord(
            "a key given twice",
            good[:-1] + b',"passenger_count":1}',
            "a key given twice",
        ),
        BadRecord("single quotes", good.replace(b'"', b"'"), "single quotes"),
        BadRecord("NaN", _json(template, ticket_price=1.5).replace(b"1.5", b"NaN"), "NaN"),
        BadRecord("two objects", good + good, "text after the object"),
        BadRecord(
            "deeply nested",
            _json(template, airline=1).replace(b":1,", b":" + b"[" * 5000 + b"]" * 5000 + b",", 1),
            "not valid JSON",
        ),
        BadRecord(
            "status contradicts delay",
            _json(template, delay_minutes=45, flight_status=FlightStatus.ON_TIME.value),
            "status_matches_delay",
        ),
    ]
