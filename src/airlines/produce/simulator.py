"""Flight events of one region's fleet: the data every producer sends.

Deterministic: the same seed and the same event times give the same events, byte for
byte (event ids included), so a test can regenerate exactly what a producer sent. An
event id also depends on its event time (128 random bits XOR the time in µs times an
odd constant, so no two times mix in the same bits), so a producer started again with
the same seed (a restarted pod) does not repeat the ids it sent before: the job would
drop those as duplicates.

Two ways to the same event: :meth:`FleetSimulator.event_at` builds the contract's
pydantic model (for tests and tools), :meth:`FleetSimulator.record_at` writes the
message's key and value bytes directly (for the producers: building and validating a
model costs several times what sending the event does). Both draw the same random
numbers in the same order, so they give the same events, and the bytes are those of
``event_at(...).to_json()`` (tests check it over large seeded samples and a property
over seeds, regions, fleets and times). The bytes are valid by construction: every
flight's fixed fields were validated against the contract when the simulator was
built, and each event's own values are drawn inside the contract's bounds.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import orjson

from airlines.config.models import DEFAULT_FLEET_SIZE
from airlines.contract.event import FlightEvent, Region, status_for_delay
from airlines.produce.fleet import PROFILES, ScheduledFlight, build_fleet

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US: Final = 86_400_000_000
_HALF_DAY_US: Final = _DAY_US // 2


def at_micros(timestamp: datetime) -> int:
    """A timezone-aware time as microseconds since the epoch (exact)."""
    return (timestamp - EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    """Microseconds since the epoch as a UTC datetime (exact)."""
    return EPOCH + timedelta(microseconds=micros)


#: The random numbers behind one event, drawn in this order: the flight (its index in
#: the fleet), the price (USD, in cents), the delay (minutes), the event id's 128 random
#: bits, the passengers.
_Draws = tuple[int, float, int, int, int]


@dataclass(frozen=True)
class _FlightText:
    """What every event of one flight shares, as JSON text."""

    key: bytes  # the message key: the flight id
    fields: str  # "flight_id":...,"arrival_city":... (the fixed fields, contract order)
    departure_us: int  # time of day of the departure
    duration_us: int


class FleetSimulator:
    """Draws events for a region's fixed fleet at the event times it is given."""

    def __init__(
        self, region: Region, *, fleet_size: int = DEFAULT_FLEET_SIZE, seed: int | None = None
    ) -> None:
        self.region = region
        self.profile = profile = PROFILES[region]
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self.fleet = build_fleet(region, fleet_size, self.seed)
        rng = random.Random(f"events:{region.value}:{self.seed}")
        self._random, self._getrandbits = rng.random, rng.getrandbits
        # What the draws need, as plain numbers: per flight its fare in cents, its
        # punctuality and how many passenger counts it can have; per region its ranges.
        low_pax = profile.passengers[0]
        self._odds = [
            (round(f.base_price * 100), f.punctuality, f.capacity - low_pax + 1) for f in self.fleet
        ]
        self._cents = (round(profile.price_usd[0] * 100), round(profile.price_usd[1] * 100))
        low, high = profile.delay_minutes
        self._delays = (low, min(high, 10) - low + 1, high - low + 1)
        self._low_pax = low_pax
        self._texts = [_flight_text(flight, region) for flight in self.fleet]
        #: Per flight: from when (exclusive, µs) its nearest departure is the one in its
        #: text (for a day from then), its key, and its text from after the event id to
        #: the passenger count: fixed fields and scheduled times.
        self._schedules: list[tuple[int, bytes, str]] = [(2**63, b"", "")] * len(self.fleet)
        #: Per delay (minutes): the JSON from the delay to the timestamp's value.
        route_type = orjson.dumps(region.value).decode()
        self._delay_text = [
            f'"delay_minutes":{delay},"flight_status":"{status_for_delay(delay).value}",'
            f'"route_type":{route_type},"timestamp":"'
            for delay in range(profile.delay_minutes[1] + 1)
        ]
        self._second = -1
        self._second_text = ""

    # -- the random draws (shared by both ways to an event) --------------------------------

    def _draw(self) -> _Draws:
        random_ = self._random
        index = int(random_() * len(self._odds))
        cents, punctuality, passenger_counts = self._odds[index]
        # Prices vary ±15 % around the flight's own fare, clamped to the region's range.
        cents = int(cents * (0.85 + 0.3 * random_()) + 0.5)
        low_cents, high_cents = self._cents
        if cents < low_cents:
            cents = low_cents
        elif cents > high_cents:
            cents = high_cents
        # A flight leaves (nearly) on time as often as its punctuality says (at most 10
        # minutes late); otherwise the delay spreads over the region's whole range.
        low, on_time, any_delay = self._delays
        delays = on_time if random_() < punctuality else any_delay
        delay = low + int(random_() * delays)
        id_bits = self._getrandbits(128)
        passengers = self._low_pax + int(random_() * passenger_counts)
        return index, cents / 100, delay, id_bits, passengers

    # -- the model ---------------------------------------------------------------------------

    def event_at(self, timestamp: datetime) -> FlightEvent:
        """The next event as the contract's model, observed at ``timestamp`` (aware)."""
        index, price, delay, id_bits, passengers = self._draw()
        flight = self.fleet[index]
        departure = _nearest_departure(flight, timestamp)
        return FlightEvent(
            event_id=_event_id(id_bits, timestamp),
            flight_id=flight.flight_id,
            airline=flight.airline.name,
            aircraft_type=flight.aircraft_type,
            departure_airport=flight.departure.code,
            departure_city=flight.departure.city,
            arrival_airport=flight.arrival.code,
            arrival_city=flight.arrival.city,
            scheduled_departure=departure,
            scheduled_arrival=departure + flight.duration,
            passenger_count=passengers,
            ticket_price=price,
            delay_minutes=delay,
            flight_status=status_for_delay(delay),
            route_type=self.region,
            timestamp=timestamp,
        )

    def events(self, start: datetime, rate: float, count: int) -> Iterator[FlightEvent]:
        """``count`` events at ``rate`` per second of event time from ``start`` (for tests)."""
        step = timedelta(seconds=1 / rate)
        for i in range(count):
            yield self.event_at(start + i * step)

    # -- the bytes -----------------------------------------------------------------------------

    def record_at(self, micros: int) -> tuple[bytes, bytes]:
        """The next event as a Kafka message (key, value) observed at ``micros`` (µs since
        the epoch, UTC): the bytes of ``event_at(from_micros(micros)).to_json()``."""
        index, price, delay, id_bits, passengers = self._draw()
        second, fraction = divmod(micros, 1_000_000)
        if second != self._second:
            self._second = second
            self._second_text = from_micros(second * 1_000_000).isoformat()[:19]
        timestamp = (
            f"{self._second_text}.{fraction:06d}+00:00"
            if fraction
            else f"{self._second_text}+00:00"
        )
        h = f"{_id_bits(id_bits, micros):032x}"
        since, key, flight = self._schedules[index]
        if not since < micros <= since + _DAY_US:
            since, key, flight = self._schedule(index, micros)
        value = (
            f'{{"event_id":"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}",{flight}'
            f'{passengers},"ticket_price":{price!r},{self._delay_text[delay]}{timestamp}"}}'
        )
        return key, value.encode()

    def _schedule(self, index: int, micros: int) -> tuple[int, bytes, str]:
        """The flight's fixed fields, with its scheduled departure nearest to ``micros``
        and its arrival, and from when that departure is the nearest (for a day).

        As :func:`_nearest_departure`: the departure of day ``d`` is the nearest in
        ``(departure - 12 h, departure + 12 h]`` (a tie goes to the earlier one).
        """
        text = self._texts[index]
        day = -((text.departure_us + _HALF_DAY_US - micros) // _DAY_US)
        departure = day * _DAY_US + text.departure_us
        fields = (
            f"{text.fields},"
            f'"scheduled_departure":"{from_micros(departure).isoformat()}",'
            f'"scheduled_arrival":"{from_micros(departure + text.duration_us).isoformat()}",'
            '"passenger_count":'
        )
        self._schedules[index] = (departure - _HALF_DAY_US, text.key, fields)
        return self._schedules[index]


def _flight_text(flight: ScheduledFlight, region: Region) -> _FlightText:
    """A flight's fixed fields as JSON, checked against the contract once."""
    fields = {
        "flight_id": flight.flight_id,
        "airline": flight.airline.name,
        "aircraft_type": flight.aircraft_type,
        "departure_airport": flight.departure.code,
        "departure_city": flight.departure.city,
        "arrival_airport": flight.arrival.code,
        "arrival_city": flight.arrival.city,
    }
    departure = EPOCH + flight.departure_time
    FlightEvent(  # raises if a flight of the fleet could break the contract
        event_id=uuid.UUID(int=0, version=4),
        **fields,
        scheduled_departure=departure,
        scheduled_arrival=departure + flight.duration,
        passenger_count=flight.capacity,
        ticket_price=flight.base_price,
        delay_minutes=0,
        flight_status=status_for_delay(0),
        route_type=region,
        timestamp=departure,
    )
    return _FlightText(
        key=flight.flight_id.encode(),
        fields=orjson.dumps(fields).decode()[1:-1],
        departure_us=flight.departure_time // timedelta(microseconds=1),
        duration_us=flight.duration // timedelta(microseconds=1),
    )


#: Odd, so that multiplying by it is a bijection of 128-bit numbers (times never collide).
_TIME_MIX = 0x9E3779B97F4A7C15F39CC0605CEDC835
_BITS_128 = (1 << 128) - 1
#: The version (4) and variant (RFC 4122) bits of a UUID, and where they go.
_UUID_FIXED = (0xF << 76) | (0x3 << 62)
_UUID_V4 = (0x4 << 76) | (0x2 << 62)


def _id_bits(draw: int, micros: int) -> int:
    """The 128 bits of an event id: the draw, mixed with the event time, as version 4."""
    mixed = draw ^ ((micros * _TIME_MIX) & _BITS_128)
    return (mixed & ~_UUID_FIXED) | _UUID_V4


def _event_id(draw: int, timestamp: datetime) -> uuid.UUID:
    """A version-4 id from the simulator's draw and the event time (see the module)."""
    return uuid.UUID(int=_id_bits(draw, at_micros(timestamp)))


def _nearest_departure(flight: ScheduledFlight, at: datetime) -> datetime:
    """This flight's scheduled departure closest to ``at`` (yesterday, today or tomorrow)."""
    midnight = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    candidates = [midnight + timedelta(days=d) + flight.departure_time for d in (-1, 0, 1)]
    return min(candidates, key=lambda c: abs(c - at))
