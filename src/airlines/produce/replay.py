"""Reading flight events for ``airlines replay`` from JSONL or CSV files.

Replay reads two kinds of file: files in the event contract's own form (what the
producers send), and files of real flights recorded elsewhere, such as those of the original public
implementation (github.com/rrs-3199/airlines_data_analytics), whose records have the
contract's field names but no ``event_id``, their own words for ``flight_status`` and
``route_type``, and times without a UTC offset. The input rules below apply on input
only: every row becomes a :class:`~airlines.contract.event.FlightEvent` in the contract's
canonical form before it is sent, so the Kafka wire format and the streaming job's checks
are the same as for the producers.

**event_id.** A row that carries an ``event_id`` keeps it. A row without one (the field
or CSV column missing, null or empty) gets a derived, deterministic one:
:func:`derive_event_id`, a uuid5 in :data:`EVENT_ID_NAMESPACE` over the row's normalised
content (:func:`canonical_content`: every field but ``event_id``, after aliases and times
are normalised, times in UTC) and the row's *occurrence*: 0 for the first row of the file
with that content, 1 for the next row with exactly the same content, and so on.

- So the same row of the same file gets the same id on every replay, and a consumer that
  de-duplicates on ``event_id`` counts a file replayed twice once. The id does not depend
  on the spelling (``On Time`` or ``on-time``, JSONL or CSV, ``Z`` or ``+00:00``), on the
  line number (inserting, removing or reordering *other* rows keeps every id) or on the
  file's name or path (a moved or renamed file keeps its ids).
- Two identical rows on different lines are two observations, not one merged silently:
  the second gets occurrence 1, so its own id, and :attr:`Row.repeats` names the line it
  repeats (``airlines replay`` prints a note for it).
- The trade-off of leaving the file out of the id: the same content in two different
  files is the same event (an overlapping export replayed twice counts once, which is
  the point); and removing the first of two identical rows gives the second the first's
  id. Rows carrying an ``event_id`` take no part in the occurrence count.

**Vocabulary.** ``flight_status`` and ``route_type`` accept, besides the contract's
values, the aliases of :data:`FLIGHT_STATUS_ALIASES` and :data:`ROUTE_TYPE_ALIASES` (the
original implementation's words), matched after :func:`fold_word` (case, and runs of
spaces, ``_`` and ``-``, do not matter). Statuses the contract cannot express
(:data:`INEXPRESSIBLE_FLIGHT_STATUSES`, e.g. the original's ``Boarding`` and ``In Air``)
and unknown words are errors that name the field, the value and the accepted values.

**Times.** ``scheduled_departure``, ``scheduled_arrival`` and ``timestamp`` written as a
date and time without an offset (:data:`NAIVE_DATETIME`: ``YYYY-MM-DD HH:MM[:SS[.ffffff]]``,
with a space or ``T``, as the original's Python ``datetime.now()`` wrote them) are read in
the zone ``naive_tz`` of :func:`read_rows`: UTC unless ``airlines replay
--naive-timezone`` says otherwise (the original's producers ran in ``python:3.9-slim``
pods, whose clock zone is UTC unless configured otherwise). A local time that occurs
twice at a DST change is read as its first occurrence. Times with an offset are kept as
written; other forms are errors.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal, NoReturn

import pydantic_core
from pydantic import ValidationError

from airlines.config.loader import format_errors
from airlines.contract.event import (
    DELAYED_FROM_MINUTES,
    FlightEvent,
    FlightStatus,
    Region,
    event_fields,
)

FileFormat = Literal["jsonl", "csv"]

#: Namespace of derived event ids. Frozen: changing it (or :func:`canonical_content`)
#: changes every derived id, so a file replayed before and after would count twice.
EVENT_ID_NAMESPACE: Final = uuid.UUID("417a1edc-f5dc-4710-b364-4857063f90c0")

#: Input-only aliases of ``flight_status``: the original implementation's words
#: (its producers' ``flight_status`` values), matched after :func:`fold_word`.
FLIGHT_STATUS_ALIASES: Final[Mapping[str, FlightStatus]] = {
    "On Time": FlightStatus.ON_TIME,
    "Delayed": FlightStatus.DELAYED,
}

#: Input-only aliases of ``route_type``: the original producers' ``route_type`` values
#: and the route names its Spark job used, matched after :func:`fold_word`.
ROUTE_TYPE_ALIASES: Final[Mapping[str, Region]] = {
    "east_coast": Region.EAST_COAST,
    "East Coast": Region.EAST_COAST,
    "west_coast": Region.WEST_COAST,
    "West Coast": Region.WEST_COAST,
    "cross_country": Region.CROSS_COUNTRY,
    "Cross Country": Region.CROSS_COUNTRY,
}

#: Statuses real records use that the contract cannot express, and why. The contract's
#: ``flight_status`` is punctuality only, derived from ``delay_minutes``; guessing one
#: from a phase would invent data, so such rows are rejected.
INEXPRESSIBLE_FLIGHT_STATUSES: Final[Mapping[str, str]] = {
    "Boarding": "it is a flight phase",  # the original implementation's
    "In Air": "it is a flight phase",  # the original implementation's
    "Cancelled": "a cancelled flight has no departure delay",
    "Canceled": "a cancelled flight has no departure delay",
    "Diverted": "a diversion is not a departure delay",
}

#: A date and time without a UTC offset, read in the replay's naive time zone.
NAIVE_DATETIME: Final = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?")

#: Longest line read (bytes, its end included): the brokers' default largest message.
#: An event is about 500 bytes; a longer line is not a flight event, and reading it
#: whole could take all the memory there is.
MAX_LINE_BYTES: Final = 1_048_576

_TIME_FIELDS: Final = ("scheduled_departure", "scheduled_arrival", "timestamp")
_PLACEHOLDER_ID: Final = str(uuid.UUID(int=0))


def fold_word(word: str) -> str:
    """The form aliases are matched in: case-folded, runs of spaces, ``_`` and ``-`` as one
    space, trimmed (``On_Time``, ``on-time`` and ``ON  TIME`` all fold to ``on time``)."""
    return re.sub(r"[\s_-]+", " ", word.casefold()).strip()


def _lookup(canonical: Iterable[StrEnum], aliases: Mapping[str, StrEnum]) -> dict[str, str]:
    table = {fold_word(a): v.value for a, v in aliases.items()}
    table.update({fold_word(v.value): v.value for v in canonical})
    return table


def _accepted(canonical: Iterable[StrEnum], aliases: Mapping[str, StrEnum]) -> str:
    words = ", ".join(f"'{v.value}'" for v in canonical)
    return f"{words}, or the aliases {', '.join(repr(a) for a in aliases)}"


_ENUM_FIELDS: Final[Mapping[str, dict[str, str]]] = {
    "flight_status": _lookup(FlightStatus, FLIGHT_STATUS_ALIASES),
    "route_type": _lookup(Region, ROUTE_TYPE_ALIASES),
}
_ACCEPTED: Final[Mapping[str, str]] = {
    "flight_status": _accepted(FlightStatus, FLIGHT_STATUS_ALIASES),
    "route_type": _accepted(Region, ROUTE_TYPE_ALIASES),
}
_INEXPRESSIBLE: Final = {fold_word(k): v for k, v in INEXPRESSIBLE_FLIGHT_STATUSES.items()}


@dataclass(frozen=True)
class Row:
    """One data line of the file: its event, or why it is not one."""

    line: int
    event: FlightEvent | None
    problem: str | None = None
    #: The event_id was derived (the row had none).
    derived_id: bool = False
    #: Line of the earlier row with the same content (derived ids only); this row is
    #: still a separate event with an id of its own.
    repeats: int | None = None


def detect_format(path: Path) -> FileFormat:
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"{path}: cannot tell the format from the extension; use --format jsonl|csv")


def canonical_content(event: FlightEvent) -> str:
    """The row content a derived id is computed from: every field but ``event_id``, as
    compact JSON with sorted keys, enums as their values and times in UTC with
    microseconds (so equal instants written differently are equal)."""
    data: dict[str, Any] = {}
    for name, value in event.model_dump(exclude={"event_id"}).items():
        if isinstance(value, datetime):
            data[name] = value.astimezone(UTC).isoformat(timespec="microseconds")
        elif isinstance(value, Enum):
            data[name] = value.value
        else:
            data[name] = value
    return pydantic_core.to_json(dict(sorted(data.items()))).decode()


def derive_event_id(event: FlightEvent, occurrence: int = 0) -> uuid.UUID:
    """uuid5 of the ``occurrence``-th (0-based) row of a file with this event's content."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"v1\n{occurrence}\n{canonical_content(event)}")


def _problem(error: ValidationError) -> str:
    lines = format_errors(error)
    for i, item in enumerate(error.errors(include_url=False)):
        field = item["loc"][0] if len(item["loc"]) == 1 else None
        if item["type"] == "enum" and isinstance(field, str) and field in _ACCEPTED:
            lines[i] = f"{field}: {_word_problem(field, item['input'])}"
    return "; ".join(lines)


def _word_problem(field: str, value: Any) -> str:
    why = _INEXPRESSIBLE.get(fold_word(value)) if isinstance(value, str) else None
    if field == "flight_status" and why is not None:
        return (
            f"{value!r} cannot be replayed: {why}, and the contract's flight_status is only "
            f"punctuality ('delayed' iff delay_minutes >= {DELAYED_FROM_MINUTES}, else 'on-time')"
        )
    return (
        f"{value!r} is not one of the accepted values: {_ACCEPTED[field]} "
        "(case, spaces, '_' and '-' do not matter)"
    )


def _normalise(values: dict[str, Any], naive_tz: tzinfo) -> bool:
    """Apply the input rules in place; True if the row had no event_id (a placeholder now)."""
    for field, table in _ENUM_FIELDS.items():
        word = values.get(field)
        if isinstance(word, str) and (canonical := table.get(fold_word(word))) is not None:
            values[field] = canonical
    for field in _TIME_FIELDS:
        text = values.get(field)
        if isinstance(text, str) and NAIVE_DATETIME.fullmatch(text):
            with suppress(ValueError):  # e.g. month 13: left for the contract to report
                values[field] = datetime.fromisoformat(text).replace(tzinfo=naive_tz).isoformat()
    if values.get("event_id") in (None, ""):
        values["event_id"] = _PLACEHOLDER_ID
        return True
    return False


class _Ids:
    """Derived ids of one file: occurrences of each content, and where it was first seen."""

    def __init__(self) -> None:
        self._seen: dict[uuid.UUID, tuple[int, int]] = {}

    def row(self, line: int, event: FlightEvent) -> Row:
        first = derive_event_id(event)
        count, first_line = self._seen.get(first, (0, line))
        self._seen[first] = (count + 1, first_line)
        event_id = first if count == 0 else derive_event_id(event, count)
        return Row(
            line,
            event.model_copy(update={"event_id": event_id}),
            derived_id=True,
            repeats=first_line if count else None,
        )


def read_rows(path: Path, fmt: FileFormat, naive_tz: tzinfo = UTC) -> Iterator[Row]:
    """Rows in file order, normalised by the input rules (see the module) and validated
    against the contract; blank lines skipped. ``naive_tz``: the zone of times written
    without an offset."""
    if fmt == "jsonl":
        yield from _jsonl(path, naive_tz)
    else:
        yield from _csv(path, naive_tz)


def _jsonl(path: Path, naive_tz: tzinfo) -> Iterator[Row]:
    ids = _Ids()
    with path.open("rb") as handle:
        lines = _Lines(path, handle)
        for line in lines:
            number = lines.number
            if not line.strip():
                continue
            try:
                values = pydantic_core.from_json(line)  # the parser model_validate_json uses
            except ValueError:
                yield Row(number, None, "not valid JSON")
                continue
            derived, data = False, line.encode()
            if isinstance(values, dict):
                derived = _normalise(values, naive_tz)
                data = pydantic_core.to_json(values)
            try:  # JSON mode, as the contract reads a Kafka message
                event = FlightEvent.model_validate_json(data)
            except ValidationError as exc:
                yield Row(number, None, _problem(exc))
                continue
            yield ids.row(number, event) if derived else Row(number, event)


class ReplayInputError(ValueError):
    """The file cannot be read on from this line (``FILE:LINE: problem``): rows before
    it were read; none after it are."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path, self.line, self.problem = path, line, problem


class CsvHeaderError(ReplayInputError):
    """The CSV header does not have the contract's columns."""


class _Lines:
    """The lines of a file as text, their ends included, with the number of the last one
    read; :class:`ReplayInputError` at the first line past :data:`MAX_LINE_BYTES` or not
    UTF-8."""

    def __init__(self, path: Path, handle: BinaryIO) -> None:
        self.path, self.handle, self.number = path, handle, 0

    def __iter__(self) -> Iterator[str]:
        while line := self.handle.readline(MAX_LINE_BYTES + 1):
            self.number += 1
            if len(line) > MAX_LINE_BYTES:
                self.stop(f"line longer than {MAX_LINE_BYTES} bytes")
            try:
                yield line.decode()
            except UnicodeDecodeError as exc:
                self.stop(f"not UTF-8 (byte 0x{line[exc.start]:02x} at column {exc.start + 1})")

    def stop(self, problem: str) -> NoReturn:
        raise ReplayInputError(self.path, self.number, problem)


def _csv(path: Path, naive_tz: tzinfo) -> Iterator[Row]:
    ids = _Ids()
    with path.open("rb") as handle:
        # csv reads lines from any iterable: these are checked and decoded one at a time.
        lines = _Lines(path, handle)
        reader = csv.DictReader(lines)
        try:
            header = reader.fieldnames or []
        except csv.Error as exc:
            lines.stop(f"not CSV: {exc}")
        missing = [f for f in event_fields() if f not in header and f != "event_id"]
        unknown = [f for f in header if f not in event_fields()]
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing columns {missing}")
            if unknown:
                parts.append(f"unknown columns {unknown}")
            raise CsvHeaderError(path, 1, "header has " + " and ".join(parts))
        while True:
            try:
                record = next(reader, None)
            except csv.Error as exc:
                lines.stop(f"not CSV: {exc}")
            if record is None:
                break
            number = reader.line_num
            if None in record:
                yield Row(number, None, f"{len(record[None])} more values than header columns")
                continue
            values = {k: v for k, v in record.items() if v not in ("", None)}
            derived = _normalise(values, naive_tz)
            try:
                event = FlightEvent.model_validate(values)
            except ValidationError as exc:
                yield Row(number, None, _problem(exc))
                continue
            yield ids.row(number, event) if derived else Row(number, event)
