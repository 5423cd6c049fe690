"""Replaying real data recorded elsewhere: derived event ids, the original's words, naive times."""

from __future__ import annotations

import csv
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from airlines.contract.event import FlightEvent, FlightStatus, Region, event_fields
from airlines.produce.replay import (
    EVENT_ID_NAMESPACE,
    FLIGHT_STATUS_ALIASES,
    INEXPRESSIBLE_FLIGHT_STATUSES,
    ROUTE_TYPE_ALIASES,
    FileFormat,
    Row,
    derive_event_id,
    fold_word,
    read_rows,
)
from airlines_testkit.stack import run_cli

SAMPLES = Path(__file__).resolve().parents[2] / "producers" / "samples"
SAMPLE = SAMPLES / "original-record.jsonl"

#: One record as the original implementation's producers wrote it (no event_id, its words).
ORIGINAL: dict[str, Any] = {
    "flight_id": "EC0007",
    "airline": "JetBlue",
    "aircraft_type": "Embraer E190",
    "departure_airport": "BOS",
    "departure_city": "Boston",
    "arrival_airport": "MIA",
    "arrival_city": "Miami",
    "scheduled_departure": "2026-11-24 14:00:00",
    "scheduled_arrival": "2026-11-24 16:42:10",
    "passenger_count": 151,
    "ticket_price": 289.4,
    "flight_status": "On Time",
    "delay_minutes": 4,
    "route_type": "east_coast",
    "timestamp": "2026-11-24 14:00:00.250971",
}
DELAYED = {**ORIGINAL, "flight_status": "Delayed", "delay_minutes": 31}


def record(**changes: Any) -> dict[str, Any]:
    return {**ORIGINAL, **changes}


def write(path: Path, records: list[dict[str, Any]], columns: list[str] | None = None) -> Path:
    """JSONL or CSV (by the suffix); CSV columns default to the contract's minus event_id."""
    if path.suffix == ".jsonl":
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
        return path
    fields = columns or [f for f in event_fields() if f != "event_id"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(records)
    return path


def rows(path: Path, **kwargs: Any) -> list[Row]:
    fmt: FileFormat = "jsonl" if path.suffix == ".jsonl" else "csv"
    return list(read_rows(path, fmt, **kwargs))


def events(path: Path, **kwargs: Any) -> list[FlightEvent]:
    result = rows(path, **kwargs)
    assert [r.problem for r in result if r.event is None] == []
    return [r.event for r in result if r.event is not None]


def ids(path: Path) -> list[uuid.UUID]:
    return [e.event_id for e in events(path)]


@pytest.fixture(params=["jsonl", "csv"])
def suffix(request: pytest.FixtureRequest) -> str:
    return f".{request.param}"


# --- event ids --------------------------------------------------------------------------


def test_the_same_file_read_twice_gives_the_same_ids(tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path / f"f{suffix}", [ORIGINAL, DELAYED, record(passenger_count=152)])
    first = ids(path)
    assert first == ids(path)
    assert len(set(first)) == 3
    assert all(i.version == 5 for i in first)
    assert first[0] == derive_event_id(events(path)[0])


def test_different_rows_get_different_ids(tmp_path: Path, suffix: str) -> None:
    variants = [
        ORIGINAL,
        record(ticket_price=289.41),
        record(timestamp="2026-11-24 14:00:00.250972"),
        record(flight_id="EC0008"),
        record(route_type="cross_country"),
    ]
    assert len(set(ids(write(tmp_path / f"f{suffix}", variants)))) == len(variants)


def test_ids_do_not_depend_on_spelling_format_line_or_file_name(tmp_path: Path) -> None:
    plain = ids(write(tmp_path / "a.jsonl", [ORIGINAL]))[0]
    canonical = record(
        flight_status="on-time",
        route_type="east-coast",
        scheduled_departure="2026-11-24T14:00:00Z",
        scheduled_arrival="2026-11-24T11:42:10-05:00",  # the same instant, another offset
        timestamp="2026-11-24T14:00:00.250971+00:00",
    )
    assert ids(write(tmp_path / "b.jsonl", [canonical]))[0] == plain
    assert ids(write(tmp_path / "c.csv", [ORIGINAL]))[0] == plain
    moved = ids(write(tmp_path / "elsewhere.jsonl", [DELAYED, record(delay_minutes=5), ORIGINAL]))
    assert moved[2] == plain  # another line, another file: the same content, the same id


def test_identical_rows_on_different_lines_stay_separate_events(
    tmp_path: Path, suffix: str
) -> None:
    path = write(tmp_path / f"f{suffix}", [ORIGINAL, DELAYED, ORIGINAL, ORIGINAL])
    result = rows(path)
    found = [r.event.event_id for r in result if r.event]
    assert len(set(found)) == 4
    assert found == [r.event.event_id for r in rows(path) if r.event]  # still deterministic
    first_line = result[0].line
    assert [r.repeats for r in result] == [None, None, first_line, first_line]
    assert all(r.derived_id for r in result)


def test_rows_carrying_an_event_id_keep_it(tmp_path: Path, suffix: str) -> None:
    given = uuid.uuid4()
    path = write(
        tmp_path / f"f{suffix}", [record(event_id=str(given)), ORIGINAL], columns=event_fields()
    )
    result = rows(path, naive_tz=UTC)
    assert result[0].event is not None
    assert result[0].event.event_id == given
    assert not result[0].derived_id
    assert result[1].derived_id  # the empty cell / missing key: derived


def test_an_empty_or_null_event_id_is_derived(tmp_path: Path) -> None:
    path = write(tmp_path / "f.jsonl", [record(event_id=None), record(event_id="")])
    found = events(path)
    assert found[0].event_id == derive_event_id(found[0])
    assert found[1].event_id == derive_event_id(found[1], 1)


def test_an_invalid_event_id_is_still_an_error(tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path / f"f{suffix}", [record(event_id="not-a-uuid")], columns=event_fields())
    problem = rows(path)[0].problem
    assert problem is not None
    assert problem.startswith("event_id:")


def test_the_id_namespace_is_frozen() -> None:
    # Changing it would change every derived id: a file replayed before and after counts twice.
    assert str(EVENT_ID_NAMESPACE) == "417a1edc-f5dc-4710-b364-4857063f90c0"


# --- vocabulary -------------------------------------------------------------------------

STATUS_CASES = [
    *[(word, status) for word, status in FLIGHT_STATUS_ALIASES.items()],
    ("on time", FlightStatus.ON_TIME),
    ("ON_TIME", FlightStatus.ON_TIME),
    ("On-Time", FlightStatus.ON_TIME),
    (" on  time ", FlightStatus.ON_TIME),
    ("DELAYED", FlightStatus.DELAYED),
    ("on-time", FlightStatus.ON_TIME),
    ("delayed", FlightStatus.DELAYED),
]
ROUTE_CASES = [
    *[(word, region) for word, region in ROUTE_TYPE_ALIASES.items()],
    ("EAST COAST", Region.EAST_COAST),
    ("west-Coast", Region.WEST_COAST),
    ("Cross_Country", Region.CROSS_COUNTRY),
    *[(region.value, region) for region in Region],
]


def test_the_alias_tables_hold_the_original_words() -> None:
    assert set(FLIGHT_STATUS_ALIASES) == {"On Time", "Delayed"}
    assert set(ROUTE_TYPE_ALIASES) >= {"east_coast", "west_coast", "cross_country"}
    assert {"Boarding", "In Air"} <= set(INEXPRESSIBLE_FLIGHT_STATUSES)
    assert fold_word("  On_Time-") == fold_word("on time") == fold_word("ON-TIME")


@pytest.mark.parametrize(("word", "status"), STATUS_CASES)
def test_each_status_alias_becomes_the_canonical_value(
    tmp_path: Path, suffix: str, word: str, status: FlightStatus
) -> None:
    delay = 31 if status is FlightStatus.DELAYED else 4
    path = write(tmp_path / f"f{suffix}", [record(flight_status=word, delay_minutes=delay)])
    (event,) = events(path)
    assert event.flight_status is status
    assert orjson.loads(event.to_json())["flight_status"] == status.value


@pytest.mark.parametrize(("word", "region"), ROUTE_CASES)
def test_each_route_alias_becomes_the_canonical_value(
    tmp_path: Path, suffix: str, word: str, region: Region
) -> None:
    (event,) = events(write(tmp_path / f"f{suffix}", [record(route_type=word)]))
    assert event.route_type is region
    assert orjson.loads(event.to_json())["route_type"] == region.value


@pytest.mark.parametrize(
    ("field", "word"), [("flight_status", "Late"), ("route_type", "North"), ("route_type", "")]
)
def test_unknown_words_are_errors_naming_field_value_and_accepted_values(
    tmp_path: Path, field: str, word: str
) -> None:
    path = write(tmp_path / "f.jsonl", [record(**{field: word})])
    problem = rows(path)[0].problem
    assert problem is not None
    assert problem.startswith(f"{field}: {word!r} is not one of the accepted values: ")
    accepted = FLIGHT_STATUS_ALIASES if field == "flight_status" else ROUTE_TYPE_ALIASES
    canonical = FlightStatus if field == "flight_status" else Region
    for value in [*accepted, *(v.value for v in canonical)]:
        assert repr(value) in problem


def test_a_non_string_word_is_an_error_too(tmp_path: Path) -> None:
    problem = rows(write(tmp_path / "f.jsonl", [record(route_type=3)]))[0].problem
    assert problem is not None
    assert problem.startswith("route_type: 3 is not one of the accepted values")


@pytest.mark.parametrize("word", [*INEXPRESSIBLE_FLIGHT_STATUSES, "in_air", "CANCELLED"])
def test_statuses_the_contract_cannot_express_are_rejected_saying_why(
    tmp_path: Path, suffix: str, word: str
) -> None:
    problem = rows(write(tmp_path / f"f{suffix}", [record(flight_status=word)]))[0].problem
    assert problem is not None
    assert problem.startswith(f"flight_status: {word!r} cannot be replayed: ")
    assert "only punctuality" in problem


def test_aliases_do_not_lift_the_contracts_rules(tmp_path: Path) -> None:
    # The original picked statuses at random; 'On Time' 31 minutes late is still wrong.
    problem = rows(write(tmp_path / "f.jsonl", [record(delay_minutes=31)]))[0].problem
    assert problem == "flight_status must be 'delayed' iff delay_minutes >= 15"


# --- times --------------------------------------------------------------------------------


def test_naive_times_are_read_as_utc(tmp_path: Path, suffix: str) -> None:
    (event,) = events(write(tmp_path / f"f{suffix}", [ORIGINAL]))
    assert event.timestamp == datetime(2026, 11, 24, 14, 0, 0, 250971, tzinfo=UTC)
    assert event.scheduled_departure == datetime(2026, 11, 24, 14, tzinfo=UTC)
    sent = orjson.loads(event.to_json())
    assert sent["timestamp"] == "2026-11-24T14:00:00.250971+00:00"


def test_naive_times_in_another_zone(tmp_path: Path) -> None:
    path = write(tmp_path / "f.jsonl", [ORIGINAL])
    (event,) = events(path, naive_tz=ZoneInfo("America/New_York"))
    assert event.scheduled_departure.utcoffset() == timedelta(hours=-5)
    assert event.scheduled_departure == datetime(2026, 11, 24, 19, tzinfo=UTC)
    assert event.event_id != ids(path)[0]  # another instant, another observation


@pytest.mark.parametrize("text", ["2026-11-24", "2026-11-24 14", "24/11/2026 14:00", "tomorrow"])
def test_other_time_forms_are_still_errors(tmp_path: Path, text: str) -> None:
    problem = rows(write(tmp_path / "f.jsonl", [record(timestamp=text)]))[0].problem
    assert problem is not None
    assert problem.startswith("timestamp: ")


# --- CSV ----------------------------------------------------------------------------------


def test_a_csv_header_may_omit_event_id_but_nothing_else(tmp_path: Path) -> None:
    assert len(events(write(tmp_path / "ok.csv", [ORIGINAL]))) == 1
    columns = [f for f in event_fields() if f not in ("event_id", "timestamp")]
    path = write(tmp_path / "bad.csv", [{k: ORIGINAL[k] for k in columns}], columns=columns)
    with pytest.raises(ValueError, match=r"missing columns \['timestamp'\]$"):
        rows(path)


def test_csv_with_an_event_id_column_mixes_given_and_derived_ids(tmp_path: Path) -> None:
    given = str(uuid.uuid4())
    path = write(
        tmp_path / "f.csv",
        [record(event_id=given), record(event_id=""), DELAYED],
        columns=event_fields(),
    )
    found = rows(path)
    assert [str(r.event.event_id) == given for r in found if r.event] == [True, False, False]
    assert [r.derived_id for r in found] == [False, True, True]


# --- the sample, through the real CLI ------------------------------------------------------


def test_the_original_style_sample_replays_with_check_every_row_valid() -> None:
    lines = SAMPLE.read_bytes().splitlines()
    assert all(b'"event_id"' not in line for line in lines)  # the original's style
    result = run_cli("replay", str(SAMPLE), "--topic", "east-coast-flights", "--check")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    n = len(lines)
    assert f"{SAMPLE}: {n} valid rows ({n} with derived event_ids), 0 invalid" in result.stdout
    found = events(SAMPLE)
    assert {e.route_type for e in found} == set(Region)
    assert {e.flight_status for e in found} == set(FlightStatus)
    assert found == events(SAMPLE)  # ids included


def test_cli_reports_bad_rows_as_file_line_field_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path / "f.jsonl",
        [ORIGINAL, record(flight_status="Boarding"), record(route_type="North"), ORIGINAL],
    )
    result = run_cli("replay", str(path), "--topic", "t", "--check")
    assert result.returncode == 1
    assert f"{path}:2: flight_status: 'Boarding' cannot be replayed: " in result.stderr
    assert f"{path}:3: route_type: 'North' is not one of the accepted values" in result.stderr
    assert f"{path}:4: note: same content as line 1; replayed as a separate event" in (
        result.stderr
    )
    assert "2 valid rows (2 with derived event_ids), 2 invalid" in result.stdout


def test_cli_rejects_an_unknown_naive_timezone() -> None:
    result = run_cli(
        "replay", str(SAMPLE), "--topic", "t", "--check", "--naive-timezone", "Mars/Olympus"
    )
    assert result.returncode == 2
    assert "--naive-timezone: unknown time zone 'Mars/Olympus'" in result.stderr


def test_contract_samples_still_replay_as_before() -> None:
    for name, valid in [("flights.jsonl", 120), ("east-coast.csv", 40)]:
        result = run_cli("replay", str(SAMPLES / name), "--topic", "t", "--check")
        assert result.returncode == 0, result.stderr
        assert f"{valid} valid rows, 0 invalid" in result.stdout
    errors = SAMPLES / "with-errors.jsonl"
    result = run_cli("replay", str(errors), "--topic", "t", "--check")
    assert result.returncode == 1
    assert f"{errors}:2: ticket_price: Input should be greater than 0" in result.stderr
    assert f"{errors}:3: not valid JSON" in result.stderr
    assert f"{errors}:4: flight_status must be 'delayed' iff delay_minutes >= 15" in result.stderr
