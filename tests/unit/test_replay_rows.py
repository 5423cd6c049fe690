"""Reading replay files: valid rows become events, invalid ones carry line numbers."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import orjson
import pytest

from airlines.contract.event import Region, event_fields
from airlines.produce.replay import (
    MAX_LINE_BYTES,
    CsvHeaderError,
    ReplayInputError,
    detect_format,
    read_rows,
)
from airlines.produce.simulator import FleetSimulator

SAMPLES = Path(__file__).resolve().parents[2] / "producers" / "samples"

START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def events(n: int) -> list:  # type: ignore[type-arg]
    return list(FleetSimulator(Region.EAST_COAST, seed=3).events(START, 10, n))


def test_jsonl_rows_keep_order_and_event_times(tmp_path: Path) -> None:
    sample = events(5)
    path = tmp_path / "e.jsonl"
    lines = [e.to_json() for e in sample]
    lines.insert(2, b"{not json")
    lines.insert(4, b"")
    broken = orjson.loads(sample[0].to_json())
    broken["ticket_price"] = -1
    lines.append(orjson.dumps(broken))
    path.write_bytes(b"\n".join(lines) + b"\n")
    rows = list(read_rows(path, "jsonl"))
    assert [r.event for r in rows if r.event] == sample
    bad = [(r.line, r.problem) for r in rows if r.event is None]
    assert bad[0] == (3, "not valid JSON")
    assert bad[1][0] == 8
    assert bad[1][1] is not None
    assert bad[1][1].startswith("ticket_price:")


def test_csv_rows(tmp_path: Path) -> None:
    sample = events(3)
    path = tmp_path / "e.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=event_fields())
        writer.writeheader()
        for event in sample:
            writer.writerow(orjson.loads(event.to_json()))
        row = orjson.loads(sample[0].to_json())
        row["departure_airport"] = "NOWHERE"
        row["delay_minutes"] = ""
        writer.writerow(row)
    rows = list(read_rows(path, "csv"))
    assert [r.event for r in rows[:3]] == sample
    assert rows[3].line == 5
    assert rows[3].problem is not None
    assert "departure_airport:" in rows[3].problem
    assert "delay_minutes: required key is missing" in rows[3].problem


def test_csv_header_must_match_the_contract(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("flight_id,price\nDL1,3\n")
    with pytest.raises(
        CsvHeaderError, match=r"e.csv:1: header has missing columns .* unknown columns \['price'\]"
    ):
        list(read_rows(path, "csv"))


def test_format_from_extension(tmp_path: Path) -> None:
    assert detect_format(Path("a.jsonl")) == "jsonl"
    assert detect_format(Path("a.CSV")) == "csv"
    with pytest.raises(ValueError, match="--format"):
        detect_format(Path("a.txt"))


def _sample_lines(count: int) -> tuple[str, list[str]]:
    """The CSV header and ``count`` valid data lines of the bundled sample."""
    lines = (SAMPLES / "east-coast.csv").read_text().splitlines()
    return lines[0], lines[1 : count + 1]


def test_a_csv_line_that_is_not_utf8_stops_the_reading_at_that_line(tmp_path: Path) -> None:
    header, data = _sample_lines(3)
    path = tmp_path / "e.csv"
    fields = data[2].split(",")
    fields[2] = "Caf\xe9"  # the airline, in Latin-1
    bad = ",".join(fields).encode("latin-1")
    path.write_bytes(b"\n".join([header.encode(), data[0].encode(), data[1].encode(), bad]) + b"\n")
    rows = read_rows(path, "csv")
    assert [next(rows).line, next(rows).line] == [2, 3]
    with pytest.raises(ReplayInputError) as stopped:
        next(rows)
    assert str(stopped.value) == f"{path}:4: not UTF-8 (byte 0xe9 at column {bad.index(0xE9) + 1})"


def test_a_jsonl_line_that_is_not_utf8_stops_the_reading(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(b'\n{"flight_id": "DL\xff1"}\n')
    with pytest.raises(ReplayInputError, match=r"e.jsonl:2: not UTF-8 \(byte 0xff at column 18\)"):
        list(read_rows(path, "jsonl"))


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_line_past_the_bound_stops_the_reading_without_reading_it_whole(
    tmp_path: Path, fmt: Literal["jsonl", "csv"]
) -> None:
    header, data = _sample_lines(1)
    path = tmp_path / f"e.{fmt}"
    first = header if fmt == "csv" else '{"flight_id": "DL1"}'
    path.write_text(first + "\n" + "x" * (MAX_LINE_BYTES * 3) + "\n" + data[0] + "\n")
    with pytest.raises(ReplayInputError) as stopped:
        list(read_rows(path, fmt))
    assert str(stopped.value) == f"{path}:2: line longer than {MAX_LINE_BYTES} bytes"


def test_a_csv_field_past_the_csv_limit_is_a_clear_stop(tmp_path: Path) -> None:
    header, data = _sample_lines(1)
    path = tmp_path / "e.csv"
    path.write_text(header + "\n" + data[0] + "\n" + '"' + "y" * 200_000 + '",DL1\n')
    rows = read_rows(path, "csv")
    assert next(rows).event is not None
    with pytest.raises(ReplayInputError, match=r"e.csv:3: not CSV: field larger than"):
        next(rows)
