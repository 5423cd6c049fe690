"""Reading flight events from JSONL or CSV files that use the contract's field names."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from airlines.config.loader import format_errors
from airlines.contract import FlightEvent, event_fields

FileFormat = Literal["jsonl", "csv"]


@dataclass(frozen=True)
class Row:
    """One data line of the file: its event, or why it is not one."""

    line: int
    event: FlightEvent | None
    problem: str | None = None


def detect_format(path: Path) -> FileFormat:
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"{path}: cannot tell the format from the extension; use --format jsonl|csv")


def _problem(error: ValidationError) -> str:
    return "; ".join(format_errors(error))


def read_rows(path: Path, fmt: FileFormat) -> Iterator[Row]:
    """Rows in file order, each validated against the contract; blank lines skipped."""
    if fmt == "jsonl":
        yield from _jsonl(path)
    else:
        yield from _csv(path)


def _jsonl(path: Path) -> Iterator[Row]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                yield Row(number, FlightEvent.model_validate_json(raw))
            except ValidationError as exc:
                if exc.errors()[0]["type"] == "json_invalid":
                    yield Row(number, None, "not valid JSON")
                else:
                    yield Row(number, None, _problem(exc))


class CsvHeaderError(ValueError):
    """The CSV header does not have the contract's columns."""


def _csv(path: Path) -> Iterator[Row]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [f for f in event_fields() if f not in header]
        unknown = [f for f in header if f not in event_fields()]
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing columns {missing}")
            if unknown:
                parts.append(f"unknown columns {unknown}")
            raise CsvHeaderError(f"{path}: line 1: header has " + " and ".join(parts))
        for record in reader:
            number = reader.line_num
            if None in record:
                yield Row(number, None, f"{len(record[None])} more values than header columns")
                continue
            values = {k: v for k, v in record.items() if v not in ("", None)}
            try:
                yield Row(number, FlightEvent.model_validate(values))
            except ValidationError as exc:
                yield Row(number, None, _problem(exc))
