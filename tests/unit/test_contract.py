"""The flight event contract: constraints, cross-field rules, JSON round trip."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from airlines.contract.event import (
    CROSS_FIELD_RULES,
    FlightEvent,
    FlightStatus,
    Region,
    event_fields,
    json_schema,
)

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def valid_event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=1)),
        "flight_id": "DL402",
        "airline": "Delta",
        "aircraft_type": "Boeing 737",
        "departure_airport": "JFK",
        "departure_city": "New York",
        "arrival_airport": "ATL",
        "arrival_city": "Atlanta",
        "scheduled_departure": (T0 + timedelta(hours=1)).isoformat(),
        "scheduled_arrival": (T0 + timedelta(hours=3)).isoformat(),
        "passenger_count": 150,
        "ticket_price": 249.5,
        "delay_minutes": 20,
        "flight_status": "delayed",
        "route_type": "east-coast",
        "timestamp": T0.isoformat(),
    }
    event.update(changes)
    return event


def test_fifteen_original_fields_plus_event_id() -> None:
    assert len(event_fields()) == 16
    assert event_fields()[0] == "event_id"
    assert set(json_schema()["required"]) == set(event_fields())


def test_json_round_trip_is_exact() -> None:
    event = FlightEvent.model_validate(valid_event())
    data = event.to_json()
    assert FlightEvent.from_json(data) == event
    decoded = orjson.loads(data)
    assert decoded["flight_status"] == "delayed"
    assert decoded["route_type"] == "east-coast"
    assert decoded["timestamp"] == "2026-11-24T12:00:00+00:00"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ticket_price": 0}, "ticket_price"),
        ({"ticket_price": -5.0}, "ticket_price"),
        ({"passenger_count": -1}, "passenger_count"),
        ({"passenger_count": "many"}, "passenger_count"),
        ({"departure_airport": "JFKX"}, "departure_airport"),
        ({"arrival_airport": "atl"}, "arrival_airport"),
        ({"flight_id": "Delta 402"}, "flight_id"),
        ({"timestamp": "2026-11-24T12:00:00"}, "timestamp"),  # naive: no timezone
        ({"route_type": "north"}, "route_type"),
        ({"flight_status": "cancelled"}, "flight_status"),
        ({"delay_minutes": -3}, "delay_minutes"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_field_constraints(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        FlightEvent.model_validate(valid_event(**changes))
    assert field in {str(e["loc"][0]) for e in caught.value.errors()}


def test_missing_field_is_rejected() -> None:
    data = valid_event()
    del data["ticket_price"]
    with pytest.raises(ValidationError, match="ticket_price"):
        FlightEvent.model_validate(data)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"scheduled_arrival": T0.isoformat(), "scheduled_departure": T0.isoformat()},
            "scheduled_arrival must be after",
        ),
        ({"delay_minutes": 5, "flight_status": "delayed"}, "flight_status must be 'delayed' iff"),
        ({"delay_minutes": 15, "flight_status": "on-time"}, "flight_status must be 'delayed' iff"),
    ],
)
def test_cross_field_rules(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FlightEvent.model_validate(valid_event(**changes))


def test_every_cross_field_rule_has_an_sql_form() -> None:
    assert {rule.name for rule in CROSS_FIELD_RULES} == {
        "arrival_after_departure",
        "status_matches_delay",
    }
    assert all(rule.sql.strip() for rule in CROSS_FIELD_RULES)


def test_enums() -> None:
    assert [r.value for r in Region] == ["east-coast", "west-coast", "cross-country"]
    assert FlightStatus("on-time") is FlightStatus.ON_TIME
