"""Flight events of one region's fleet: the data every producer sends.

Deterministic: the same seed and the same event times give the same events, byte for
byte (event ids included), so a test can regenerate exactly what a producer sent. An
event id also depends on its event time, so a producer started again with the same
seed (a restarted pod) does not repeat the ids it sent before: the job would drop those
as duplicates.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from airlines.contract import FlightEvent, Region, status_for_delay
from airlines.producers.fleet import PROFILES, ScheduledFlight, build_fleet


class FleetSimulator:
    """Draws events for a region's fixed fleet at the event times it is given."""

    def __init__(self, region: Region, *, fleet_size: int = 12, seed: int | None = None) -> None:
        self.region = region
        self.profile = PROFILES[region]
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self.fleet = build_fleet(region, fleet_size, self.seed)
        self._rng = random.Random(f"events:{region.value}:{self.seed}")

    def event_at(self, timestamp: datetime) -> FlightEvent:
        """The next event, observed at ``timestamp`` (timezone-aware)."""
        rng = self._rng
        flight = rng.choice(self.fleet)
        departure = _nearest_departure(flight, timestamp)
        low_pax, _ = self.profile.passengers
        low_price, high_price = self.profile.price_usd
        # Prices vary ±15 % around the flight's own fare, clamped to the region's range.
        price = min(high_price, max(low_price, flight.base_price * rng.uniform(0.85, 1.15)))
        delay = self._delay(rng, flight.punctuality)
        return FlightEvent(
            event_id=_event_id(rng.getrandbits(128), timestamp),
            flight_id=flight.flight_id,
            airline=flight.airline.name,
            aircraft_type=flight.aircraft_type,
            departure_airport=flight.departure.code,
            departure_city=flight.departure.city,
            arrival_airport=flight.arrival.code,
            arrival_city=flight.arrival.city,
            scheduled_departure=departure,
            scheduled_arrival=departure + flight.duration,
            passenger_count=rng.randint(low_pax, flight.capacity),
            ticket_price=round(price, 2),
            delay_minutes=delay,
            flight_status=status_for_delay(delay),
            route_type=self.region,
            timestamp=timestamp,
        )

    def _delay(self, rng: random.Random, punctuality: float) -> int:
        # A flight leaves (nearly) on time as often as its punctuality says; otherwise
        # the delay spreads over the region's whole range.
        low, high = self.profile.delay_minutes
        if rng.random() < punctuality:
            return rng.randint(low, min(high, 10))
        return rng.randint(low, high)

    def events(self, start: datetime, rate: float, count: int) -> Iterator[FlightEvent]:
        """``count`` events at ``rate`` per second of event time from ``start`` (for tests)."""
        step = timedelta(seconds=1 / rate)
        for i in range(count):
            yield self.event_at(start + i * step)


def _event_id(draw: int, timestamp: datetime) -> uuid.UUID:
    """A version-4 id from the simulator's draw and the event time (see the module)."""
    moment = timestamp.astimezone(UTC).isoformat().encode()
    digest = hashlib.blake2b(draw.to_bytes(16, "big") + moment, digest_size=16).digest()
    return uuid.UUID(bytes=digest, version=4)


def _nearest_departure(flight: ScheduledFlight, at: datetime) -> datetime:
    """This flight's scheduled departure closest to ``at`` (yesterday, today or tomorrow)."""
    midnight = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    candidates = [midnight + timedelta(days=d) + flight.departure_time for d in (-1, 0, 1)]
    return min(candidates, key=lambda c: abs(c - at))
