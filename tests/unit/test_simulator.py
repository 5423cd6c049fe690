"""The fleet simulator: determinism, recurring flights, and the regions' ranges."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from airlines.config.models import DEFAULT_FLEET_SIZE, MAX_FLEET_SIZE
from airlines.contract.event import DELAYED_FROM_MINUTES, FlightEvent, FlightStatus, Region
from airlines.produce.fleet import (
    EAST,
    PROFILES,
    WEST,
    build_fleet,
)
from airlines.produce.simulator import FleetSimulator

START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
EAST_CODES = {a.code for a in EAST}
WEST_CODES = {a.code for a in WEST}


def sample(region: Region, seed: int = 7, n: int = 2000) -> list:  # type: ignore[type-arg]
    return list(FleetSimulator(region, fleet_size=12, seed=seed).events(START, 100, n))


@pytest.mark.parametrize("region", list(Region))
def test_same_seed_same_events(region: Region) -> None:
    assert [e.to_json() for e in sample(region, n=300)] == [
        e.to_json() for e in sample(region, n=300)
    ]


def test_different_seeds_differ() -> None:
    assert [e.to_json() for e in sample(Region.EAST_COAST, 1, 50)] != [
        e.to_json() for e in sample(Region.EAST_COAST, 2, 50)
    ]


@pytest.mark.parametrize("region", list(Region))
def test_values_within_the_region_ranges(region: Region) -> None:
    profile = PROFILES[region]
    airlines = {a.name for a in profile.airlines}
    for event in sample(region):
        assert event.route_type is region
        assert event.airline in airlines
        assert event.aircraft_type in profile.aircraft
        assert profile.passengers[0] <= event.passenger_count <= profile.passengers[1]
        assert profile.price_usd[0] <= event.ticket_price <= profile.price_usd[1]
        assert profile.delay_minutes[0] <= event.delay_minutes <= profile.delay_minutes[1]
        hours = (event.scheduled_arrival - event.scheduled_departure) / timedelta(hours=1)
        assert profile.duration_hours[0] <= hours <= profile.duration_hours[1]
        assert event.departure_airport != event.arrival_airport
        expected = (
            FlightStatus.DELAYED
            if event.delay_minutes >= DELAYED_FROM_MINUTES
            else FlightStatus.ON_TIME
        )
        assert event.flight_status is expected
        assert abs(event.scheduled_departure - event.timestamp) <= timedelta(hours=12)


def test_regional_airports() -> None:
    for event in sample(Region.EAST_COAST):
        assert {event.departure_airport, event.arrival_airport} <= EAST_CODES
    for event in sample(Region.WEST_COAST):
        assert {event.departure_airport, event.arrival_airport} <= WEST_CODES
    for event in sample(Region.CROSS_COUNTRY):
        ends = {event.departure_airport, event.arrival_airport}
        assert len(ends & EAST_CODES) == 1
        assert len(ends & WEST_CODES) == 1


@pytest.mark.parametrize("region", list(Region))
def test_flights_recur_on_fixed_routes(region: Region) -> None:
    events = sample(region)
    per_flight = Counter(e.flight_id for e in events)
    assert len(per_flight) == 12  # the fleet, nothing else
    assert min(per_flight.values()) > 50  # each flight seen many times
    routes: dict[str, set[tuple[str, str, str, str]]] = {}
    for e in events:
        routes.setdefault(e.flight_id, set()).add(
            (e.departure_airport, e.arrival_airport, e.airline, e.aircraft_type)
        )
    assert all(len(r) == 1 for r in routes.values())
    times = {(e.flight_id, e.scheduled_departure.time()) for e in events}
    assert len(times) == 12  # same time of day every day


@pytest.mark.parametrize("size", [12, DEFAULT_FLEET_SIZE, MAX_FLEET_SIZE])
def test_flight_ids_are_unique_within_and_across_regions(size: int) -> None:
    ids = [f.flight_id for region in Region for f in build_fleet(region, size, 3)]
    assert len(ids) == len(set(ids)) == 3 * size
    pattern = re.compile(FlightEvent.model_fields["flight_id"].metadata[0].pattern)
    assert all(pattern.match(i) for i in ids)


def test_fleet_sizes_outside_the_range_are_refused() -> None:
    with pytest.raises(ValueError, match="fleet size: must be 1 to 10000, got 10001"):
        build_fleet(Region.EAST_COAST, MAX_FLEET_SIZE + 1, 1)


def test_the_default_fleet_looks_like_a_region() -> None:
    fleet = build_fleet(Region.EAST_COAST, DEFAULT_FLEET_SIZE, 5)
    assert len(fleet) == DEFAULT_FLEET_SIZE
    # Every airline and route of the region flies, departures all day long.
    assert {f.airline for f in fleet} == set(PROFILES[Region.EAST_COAST].airlines)
    assert len({(f.departure, f.arrival) for f in fleet}) == 12
    assert len({f.departure_time for f in fleet}) > 60


def test_delays_are_mixed() -> None:
    statuses = Counter(e.flight_status for e in sample(Region.WEST_COAST))
    assert statuses[FlightStatus.ON_TIME] > 0
    assert statuses[FlightStatus.DELAYED] > 0


def test_event_ids_are_unique() -> None:
    events = sample(Region.CROSS_COUNTRY, n=5000)
    assert len({e.event_id for e in events}) == 5000
    assert all(e.event_id.version == 4 for e in events)


def test_a_restarted_producer_with_the_same_seed_sends_new_ids() -> None:
    # The same seed replays the same draws; at other event times the ids must differ,
    # or the job would drop the restarted producer's events as duplicates.
    start = datetime(2024, 5, 1, 12, tzinfo=UTC)
    first = list(FleetSimulator(Region.EAST_COAST, seed=7).events(start, rate=10, count=500))
    again = list(FleetSimulator(Region.EAST_COAST, seed=7).events(start, rate=10, count=500))
    later = start + timedelta(seconds=90, microseconds=123)
    restarted = list(FleetSimulator(Region.EAST_COAST, seed=7).events(later, rate=10, count=500))
    assert [e.event_id for e in again] == [e.event_id for e in first]
    assert not {e.event_id for e in restarted} & {e.event_id for e in first}
    assert [e.flight_id for e in restarted] == [e.flight_id for e in first]


def test_some_flights_are_chronically_later_than_others() -> None:
    events = sample(Region.EAST_COAST, n=6000)
    delays: dict[str, list[int]] = {}
    for event in events:
        delays.setdefault(event.flight_id, []).append(event.delay_minutes)
    means = sorted(sum(d) / len(d) for d in delays.values())
    assert means[-1] - means[0] > 5  # minutes between the best and the worst flight
