"""The three regions' airports, airlines, aircraft and ranges, and their fixed fleets.

The ranges are the original project's (its producers' own). Unlike the original, each
region operates a *fixed fleet of recurring flights* — the same flight number flies
the same route at the same time every day — so that per-flight aggregates mean
something.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from airlines.config.models import MAX_FLEET_SIZE
from airlines.contract.event import Region


@dataclass(frozen=True)
class Airport:
    code: str
    city: str


@dataclass(frozen=True)
class Airline:
    name: str
    designator: str


@dataclass(frozen=True)
class RegionProfile:
    """What a region's flights look like; every generated value falls in these ranges."""

    region: Region
    origins: tuple[Airport, ...]
    destinations: tuple[Airport, ...]
    airlines: tuple[Airline, ...]
    aircraft: tuple[str, ...]
    duration_hours: tuple[float, float]
    passengers: tuple[int, int]
    price_usd: tuple[float, float]
    delay_minutes: tuple[int, int]


JFK, BOS, MIA, ATL = (
    Airport("JFK", "New York"),
    Airport("BOS", "Boston"),
    Airport("MIA", "Miami"),
    Airport("ATL", "Atlanta"),
)
LAX, SFO, SEA, PDX = (
    Airport("LAX", "Los Angeles"),
    Airport("SFO", "San Francisco"),
    Airport("SEA", "Seattle"),
    Airport("PDX", "Portland"),
)
EAST, WEST = (JFK, BOS, MIA, ATL), (LAX, SFO, SEA, PDX)

DELTA, JETBLUE, AMERICAN = (
    Airline("Delta", "DL"),
    Airline("JetBlue", "B6"),
    Airline("American", "AA"),
)
UNITED, ALASKA, SOUTHWEST = (
    Airline("United", "UA"),
    Airline("Alaska", "AS"),
    Airline("Southwest", "WN"),
)

PROFILES: dict[Region, RegionProfile] = {
    Region.EAST_COAST: RegionProfile(
        region=Region.EAST_COAST,
        origins=EAST,
        destinations=EAST,
        airlines=(DELTA, JETBLUE, AMERICAN),
        aircraft=("Boeing 737", "Airbus A320", "Embraer E190"),
        duration_hours=(1.0, 3.0),
        passengers=(100, 200),
        price_usd=(150.0, 500.0),
        delay_minutes=(0, 45),
    ),
    Region.WEST_COAST: RegionProfile(
        region=Region.WEST_COAST,
        origins=WEST,
        destinations=WEST,
        airlines=(UNITED, ALASKA, SOUTHWEST),
        aircraft=("Boeing 737", "Airbus A320", "Boeing 787"),
        duration_hours=(1.0, 2.5),
        passengers=(120, 220),
        price_usd=(200.0, 600.0),
        delay_minutes=(0, 40),
    ),
    Region.CROSS_COUNTRY: RegionProfile(
        region=Region.CROSS_COUNTRY,
        origins=EAST + WEST,
        destinations=EAST + WEST,
        airlines=(UNITED, AMERICAN, DELTA),
        aircraft=("Boeing 777", "Airbus A350", "Boeing 787"),
        duration_hours=(5.0, 6.5),
        passengers=(200, 400),
        price_usd=(400.0, 1200.0),
        delay_minutes=(0, 60),
    ),
}


@dataclass(frozen=True)
class ScheduledFlight:
    """A recurring flight: same number, route, aircraft and time of day, every day."""

    flight_id: str
    airline: Airline
    aircraft_type: str
    departure: Airport
    arrival: Airport
    departure_time: timedelta  # since midnight UTC
    duration: timedelta
    capacity: int
    base_price: float  # USD; each event's price varies around it within the region's range
    punctuality: float  # 0..1: the share of this flight's events that leave on time


def _route(profile: RegionProfile, rng: random.Random) -> tuple[Airport, Airport]:
    if profile.region is Region.CROSS_COUNTRY:
        # Coast to coast, either direction.
        east, west = rng.choice(EAST), rng.choice(WEST)
        return (east, west) if rng.random() < 0.5 else (west, east)
    departure, arrival = rng.sample(profile.origins, 2)
    return departure, arrival


#: Flight numbers have one to four digits (the contract's ``flight_id`` pattern).
FLIGHT_NUMBERS = range(1, 10_000)


def flight_numbers(region: Region, airline: Airline) -> range:
    """The numbers ``airline`` gives its flights in ``region``.

    An airline flying in several regions splits 1-9999 between them (in region order),
    so no two regions share a flight id, and every region has room for
    :data:`MAX_FLEET_SIZE` flights.
    """
    regions = [r for r, profile in PROFILES.items() if airline in profile.airlines]
    share = len(FLIGHT_NUMBERS) // len(regions)
    first = FLIGHT_NUMBERS.start + share * regions.index(region)
    last = FLIGHT_NUMBERS.stop if region is regions[-1] else first + share
    return range(first, last)


def build_fleet(region: Region, size: int, seed: int) -> list[ScheduledFlight]:
    """The region's fixed fleet; the same ``(region, size, seed)`` always gives the same one."""
    if not 1 <= size <= MAX_FLEET_SIZE:
        raise ValueError(f"fleet size: must be 1 to {MAX_FLEET_SIZE}, got {size}")
    profile = PROFILES[region]
    rng = random.Random(f"fleet:{region.value}:{seed}")
    # Each airline's numbers in this region, in a random order, drawn without repeats.
    numbers = {}
    for airline in profile.airlines:
        choices = flight_numbers(region, airline)
        numbers[airline] = rng.sample(choices, min(size, len(choices)))
    fleet = []
    for _ in range(size):
        airline = rng.choice([a for a in profile.airlines if numbers[a]])
        number = numbers[airline].pop()
        departure, arrival = _route(profile, rng)
        low_h, high_h = profile.duration_hours
        low_pax, high_pax = profile.passengers
        low_price, high_price = profile.price_usd
        fleet.append(
            ScheduledFlight(
                flight_id=f"{airline.designator}{number}",
                airline=airline,
                aircraft_type=rng.choice(profile.aircraft),
                departure=departure,
                arrival=arrival,
                # Departures on the quarter hour between 05:00 and 23:00.
                departure_time=timedelta(minutes=5 * 60 + 15 * rng.randrange(72)),
                duration=timedelta(minutes=round(rng.uniform(low_h, high_h) * 60 / 5) * 5),
                capacity=rng.randint((low_pax + high_pax) // 2, high_pax),
                base_price=round(rng.uniform(low_price, high_price), 2),
                # Some flights are chronically late (a tight turnaround, a busy hub),
                # so the most delayed flights of a route are not just noise.
                punctuality=round(rng.uniform(0.3, 0.9), 2),
            )
        )
    return fleet
