"""The producers' fast path: the bytes record_at writes are the contract model's, exactly.

record_at never builds a FlightEvent; these tests build one for every event it writes
and check that (a) the contract accepts its bytes, (b) they equal what the model-based
path (event_at + to_json) gives for the same seed and event times, key included.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlines.config.models import DEFAULT_FLEET_SIZE, MAX_FLEET_SIZE
from airlines.contract.event import FlightEvent, Region
from airlines.produce.fleet import PROFILES
from airlines.produce.simulator import FleetSimulator, at_micros, from_micros

T0 = at_micros(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
DAY_US = 86_400_000_000


def event_times(seed: int, count: int, start: int = T0) -> list[int]:
    """Times as a producer meets them: mostly microseconds apart, sometimes the same
    microsecond, a whole second, or hours later (across midnights and the half-day
    points where a flight's nearest departure changes day)."""
    rng = random.Random(seed)
    times, now = [], start
    for _ in range(count):
        now += rng.choice((0, 1, 7, 1_000_000 - now % 1_000_000, rng.randrange(DAY_US // 3)))
        times.append(now)
    return times


def check_same(region: Region, seed: int, fleet_size: int, times: list[int]) -> None:
    fast = FleetSimulator(region, fleet_size=fleet_size, seed=seed)
    model = FleetSimulator(region, fleet_size=fleet_size, seed=seed)
    for micros in times:
        key, value = fast.record_at(micros)
        event = FlightEvent.from_json(value)  # the contract accepts it
        expected = model.event_at(from_micros(micros))
        assert value == expected.to_json()
        assert event == expected
        assert key == expected.flight_id.encode()


@pytest.mark.parametrize("region", list(Region))
def test_a_large_seeded_sample_is_byte_identical_to_the_model(region: Region) -> None:
    check_same(region, seed=11, fleet_size=DEFAULT_FLEET_SIZE, times=event_times(11, 20_000))


def test_the_largest_fleet_too() -> None:
    check_same(Region.CROSS_COUNTRY, seed=3, fleet_size=MAX_FLEET_SIZE, times=event_times(3, 5000))


def test_departures_around_midnight_and_half_days() -> None:
    """Every time of day a flight's nearest departure may switch days at, to the µs."""
    simulator = FleetSimulator(Region.EAST_COAST, fleet_size=12, seed=1)
    day = T0 - T0 % DAY_US
    edges = []
    for flight in simulator.fleet:
        departure = flight.departure_time // timedelta(microseconds=1)
        for edge in (departure - DAY_US // 2, departure + DAY_US // 2, 0, DAY_US - 1):
            edges += [day + edge + d for d in (-1, 0, 1)]
    check_same(Region.EAST_COAST, seed=1, fleet_size=12, times=edges * 3)


@settings(max_examples=60, deadline=None)
@given(
    region=st.sampled_from(list(Region)),
    seed=st.integers(0, 2**64),
    fleet_size=st.integers(12, 2000),
    start=st.integers(
        at_micros(datetime(1971, 1, 1, tzinfo=UTC)), at_micros(datetime(9998, 1, 1, tzinfo=UTC))
    ),
    steps=st.integers(0, 50),
)
def test_any_seed_region_fleet_and_time_gives_the_model_bytes(
    region: Region, seed: int, fleet_size: int, start: int, steps: int
) -> None:
    check_same(region, seed, fleet_size, event_times(seed % 1000, steps + 1, start))


@pytest.mark.parametrize("region", list(Region))
def test_every_price_the_simulator_can_draw_prints_as_the_model_prints_it(
    region: Region,
) -> None:
    # record_at prints prices with repr; the model path with orjson. Prices are cents in
    # the region's range: check every one.
    low, high = PROFILES[region].price_usd
    for cents in range(round(low * 100), round(high * 100) + 1):
        price = round(cents / 100, 2)
        assert repr(price).encode() == orjson.dumps(price)


def test_record_at_keeps_the_seed_and_the_restart_rules() -> None:
    first = [FleetSimulator(Region.WEST_COAST, seed=7).record_at(t) for t in event_times(1, 500)]
    again = [FleetSimulator(Region.WEST_COAST, seed=7).record_at(t) for t in event_times(1, 500)]
    assert first == again
    # A restart with the same seed at later times sends the same flights but new ids.
    later = event_times(1, 500, start=T0 + 90_000_123)
    restarted = [FleetSimulator(Region.WEST_COAST, seed=7).record_at(t) for t in later]
    ids = {orjson.loads(value)["event_id"] for _, value in first}
    assert not ids & {orjson.loads(value)["event_id"] for _, value in restarted}
    assert [key for key, _ in restarted] == [key for key, _ in first]
