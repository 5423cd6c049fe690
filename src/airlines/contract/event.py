"""The flight event: the one definition of what producers send and the job reads.

Everything else derives from :class:`FlightEvent`: the Spark schema
(:mod:`airlines.stream.schema`), the JSON Schema (``airlines contract schema``) and the
record checks the streaming job applies before aggregating.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

#: A flight is "delayed" from this many minutes late (the US DOT definition).
DELAYED_FROM_MINUTES = 15

IataCode = Annotated[
    str,
    Field(pattern=r"^[A-Z]{3}$", description="IATA airport code, three capital letters."),
]


class Region(enum.StrEnum):
    """The regional feeds; each has its own producer and Kafka topic."""

    EAST_COAST = "east-coast"
    WEST_COAST = "west-coast"
    CROSS_COUNTRY = "cross-country"


class FlightStatus(enum.StrEnum):
    """Operational status; consistent with ``delay_minutes`` (see ``DELAYED_FROM_MINUTES``)."""

    ON_TIME = "on-time"
    DELAYED = "delayed"


#: A flight id: airline designator + 1-4 digits (the readers validate ids with it too).
FLIGHT_ID_PATTERN = r"^[A-Z0-9]{2}[0-9]{1,4}$"


class FlightEvent(BaseModel):
    """One observation of a scheduled flight, as sent to Kafka (JSON, one object per message).

    The Kafka message key is ``flight_id``. Times are timezone-aware ISO 8601 strings.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    event_id: uuid.UUID = Field(description="Unique id of this event; replays keep it.")
    flight_id: str = Field(
        pattern=FLIGHT_ID_PATTERN,
        description="Recurring flight number: airline designator + 1-4 digits, e.g. DL402.",
    )
    airline: str = Field(min_length=1, max_length=64, description="Operating airline name.")
    aircraft_type: str = Field(min_length=1, max_length=32, description="Aircraft model.")
    departure_airport: IataCode
    departure_city: str = Field(min_length=1, max_length=64, description="Departure city.")
    arrival_airport: IataCode
    arrival_city: str = Field(min_length=1, max_length=64, description="Arrival city.")
    scheduled_departure: AwareDatetime = Field(description="Scheduled departure time.")
    scheduled_arrival: AwareDatetime = Field(
        description="Scheduled arrival time; after the departure."
    )
    passenger_count: int = Field(ge=0, le=1000, description="Passengers on board.")
    ticket_price: float = Field(gt=0, le=100_000, description="Average ticket price, USD.")
    delay_minutes: int = Field(ge=0, le=24 * 60, description="Departure delay, minutes.")
    flight_status: FlightStatus = Field(
        description=f"'delayed' iff delay_minutes >= {DELAYED_FROM_MINUTES}, else 'on-time'."
    )
    route_type: Region = Field(description="The regional feed the flight belongs to.")
    timestamp: AwareDatetime = Field(description="Event time: when this was observed.")

    @model_validator(mode="after")
    def _consistent(self) -> FlightEvent:
        for rule in CROSS_FIELD_RULES:
            if not rule.check(self):
                raise ValueError(rule.message)
        return self

    def to_json(self) -> bytes:
        """Serialise for Kafka (orjson; enums as values, datetimes as RFC 3339)."""
        return orjson.dumps(self.model_dump())

    @classmethod
    def from_json(cls, data: bytes | str) -> FlightEvent:
        """Parse and validate one message value."""
        return cls.model_validate_json(data)


@dataclass(frozen=True)
class CrossFieldRule:
    """A rule over several fields, stated once for pydantic and once as Spark SQL.

    The SQL form is what the streaming job evaluates per record; keeping both forms
    side by side here (and a unit test that runs both on the same records) stops them
    drifting apart.
    """

    name: str
    message: str
    sql: str
    check: Callable[[FlightEvent], bool]


CROSS_FIELD_RULES: tuple[CrossFieldRule, ...] = (
    CrossFieldRule(
        "arrival_after_departure",
        "scheduled_arrival must be after scheduled_departure",
        "scheduled_arrival > scheduled_departure",
        lambda e: e.scheduled_arrival > e.scheduled_departure,
    ),
    CrossFieldRule(
        "status_matches_delay",
        f"flight_status must be 'delayed' iff delay_minutes >= {DELAYED_FROM_MINUTES}",
        f"(flight_status = 'delayed') = (delay_minutes >= {DELAYED_FROM_MINUTES})",
        lambda e: (
            (e.flight_status is FlightStatus.DELAYED) == (e.delay_minutes >= DELAYED_FROM_MINUTES)
        ),
    ),
)


#: Largest value a record may have, as it arrives: 1 MiB, Kafka's default limit on what
#: a broker accepts. The broker limits a batch as sent, compressed: a producer can send a
#: record that decompresses to far more (32 MiB of one byte compress to kilobytes), and
#: the job dead-letters such a record unread.
MAX_RECORD_BYTES = 1_048_576

#: How far an event's ``timestamp`` may lie ahead of its Kafka record's timestamp (the
#: producer's clock when it sent the record), unless ``streaming.maxFutureSkew`` says
#: otherwise. The watermark follows the highest event time seen, so one event dated far
#: ahead would make every later event late; past this bound it is dead-lettered instead.
#: Old events are always allowed (replays of past years).
DEFAULT_MAX_FUTURE_SKEW = timedelta(hours=1)
#: The setting of that bound, as reasons name it.
MAX_FUTURE_SKEW_SETTING = "streaming.maxFutureSkew"


def future_time_problem(
    event_time: datetime, reference: datetime, skew: timedelta, skew_text: str, reference_name: str
) -> str | None:
    """Why ``event_time`` lies too far ahead of ``reference`` (the record's timestamp), or
    None: the streaming job's reason word for word (``airlines.stream.validation``), which
    ``airlines replay`` also gives, about the clock it sends by."""
    if event_time <= reference + skew:
        return None
    when = event_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ref = reference.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return (
        f"timestamp: {when} is more than {skew_text} ({MAX_FUTURE_SKEW_SETTING}) "
        f"after {reference_name} {ref}"
    )


def status_for_delay(delay_minutes: int) -> FlightStatus:
    """The status an event with this delay must carry."""
    if delay_minutes >= DELAYED_FROM_MINUTES:
        return FlightStatus.DELAYED
    return FlightStatus.ON_TIME


def event_fields() -> list[str]:
    """Field names in contract order (CSV header order for ``airlines replay``)."""
    return list(FlightEvent.model_fields)


def json_schema() -> dict[str, Any]:
    """JSON Schema of one Kafka message value."""
    return FlightEvent.model_json_schema()
