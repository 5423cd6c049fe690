"""Reading replay files: valid rows become events, invalid ones carry line numbers."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from airlines.contract import Region, event_fields
from airlines.producers.replay import CsvHeaderError, detect_format, read_rows
from airlines.producers.simulator import FleetSimulator

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
        CsvHeaderError, match=r"line 1: header has missing columns .* unknown columns \['price'\]"
    ):
        list(read_rows(path, "csv"))


def test_format_from_extension(tmp_path: Path) -> None:
    assert detect_format(Path("a.jsonl")) == "jsonl"
    assert detect_format(Path("a.CSV")) == "csv"
    with pytest.raises(ValueError, match="--format"):
        detect_format(Path("a.txt"))
