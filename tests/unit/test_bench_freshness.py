"""make bench's freshness arithmetic: which batch made each event visible, and when."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.freshness import CheckpointLog, batch_durations, freshness, percentile

from airlines_testkit.offset_log import CheckpointBatch

KEY = ("east-coast-flights", 0)


def _batch(batch_id: int, end: int, committed: bool = True) -> CheckpointBatch:
    return CheckpointBatch(batch_id, {KEY: end}, watermark_ms=0, committed=committed)


def test_an_event_is_visible_when_the_first_batch_past_its_offset_commits() -> None:
    # Batch 0 read nothing (empty topic); batch 1 read offsets 0-2, batch 2 offsets 3-4.
    batches = [_batch(0, 0), _batch(1, 3), _batch(2, 5)]
    commits = {0: 100.0, 1: 130.0, 2: 160.0}
    records = {KEY: [(0, 101.0), (1, 110.0), (2, 125.0), (3, 131.0), (4, 150.0)]}
    assert freshness(batches, commits, records) == [29.0, 20.0, 5.0, 29.0, 10.0]


def test_events_before_the_first_commit_and_after_the_last_are_left_out() -> None:
    batches = [_batch(0, 2), _batch(1, 4), _batch(2, 6, committed=False)]
    commits = {0: 100.0, 1: 130.0}
    # offset 0-1 produced before the first commit (start-up); 4-5 never committed.
    records = {KEY: [(0, 90.0), (1, 99.0), (2, 105.0), (3, 120.0), (4, 131.0), (5, 132.0)]}
    assert freshness(batches, commits, records) == [25.0, 10.0]


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def test_batch_durations_come_from_the_jobs_batch_log() -> None:
    log = (
        "12:00:01 INFO batch 0: 0 records in (0 rows/s), 2100 ms, 0 rows written to Redis\n"
        "12:00:31 INFO batch 1: 150000 records in (13,000 rows/s), 11500 ms, 900 rows\n"
        "12:01:01 INFO dead-letter batch 1: 150000 records checked\n"
        "12:01:01 INFO batch 2: 149000 records in (12,000 rows/s), 12250 ms, 910 rows\n"
    )
    assert batch_durations(log) == [(150000, 11.5), (149000, 12.25)]


def test_the_checkpoint_log_keeps_batches_spark_has_since_deleted(tmp_path: Path) -> None:
    offsets, commits = tmp_path / "offsets", tmp_path / "commits"
    offsets.mkdir()
    commits.mkdir()

    def write(batch_id: int, end: int, *, commit: bool) -> None:
        meta = '{"batchWatermarkMs":0}'
        (offsets / str(batch_id)).write_text(f'v1\n{meta}\n{{"{KEY[0]}":{{"0":{end}}}}}\n')
        if commit:
            (commits / str(batch_id)).write_text("v1\n{}\n")

    log = CheckpointLog(tmp_path)
    write(0, 3, commit=True)
    write(1, 5, commit=False)  # running
    log.read()
    write(1, 5, commit=True)
    write(2, 9, commit=True)
    (offsets / "0").unlink()  # what minBatchesToRetain purges
    (commits / "0").unlink()
    log.read()
    assert [(b.batch_id, b.end_offsets[KEY], b.committed) for b in log.batches()] == [
        (0, 3, True),
        (1, 5, True),
        (2, 9, True),
    ]
    assert sorted(log.commits) == [0, 1, 2]
