"""The job's log as a test reads it: the line ``airlines stream`` writes per micro-batch."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class LoggedBatch:
    """One micro-batch as the job logged it: where its records went."""

    batch_id: int
    input_rows: int
    rows_written: int
    dead_lettered: int
    late_events: int
    duplicates: int
    markers: int


def logged_batches(log_text: str) -> list[LoggedBatch]:
    """The per-batch lines ``airlines stream`` logs."""
    pattern = re.compile(
        r"batch (\d+): (\d+) records in .*?, (\d+) rows written to Redis, "
        r"(\d+) dead-lettered, (\d+) late .*?, (\d+) duplicates dropped, "
        r"(\d+) smoke markers skipped"
    )
    return [LoggedBatch(*(int(g) for g in match.groups())) for match in pattern.finditer(log_text)]
