"""Which records each micro-batch read: Spark's offset log beside the topics' records.

A test reads the input topics (:class:`SourceRecord`) and the query's checkpoint
(:func:`checkpoint_batches`); :func:`batch_phases` turns both into the micro-batches
:func:`airlines_testkit.oracle.oracle` takes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from airlines.contract.smoke import is_smoke_marker
from airlines_testkit.oracle import OracleRecord


@dataclass(frozen=True)
class SourceRecord:
    """One record of an input topic, where it is (topic, partition, offset) and its bytes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    #: The record's own timestamp (ms since the epoch), when read with it.
    timestamp_ms: int | None = None
    #: Its headers' names, when read with them.
    header_names: tuple[str, ...] = ()

    @property
    def is_smoke_marker(self) -> bool:
        return is_smoke_marker(self.key, [(name, None) for name in self.header_names])


@dataclass(frozen=True)
class CheckpointBatch:
    """One micro-batch of Spark's offset log: the end offset it read to per partition."""

    batch_id: int
    end_offsets: dict[tuple[str, int], int]
    watermark_ms: int
    committed: bool


def checkpoint_batches(query_checkpoint: Path) -> list[CheckpointBatch]:
    """A query's offset log (``<checkpoint>/offsets/<batch>``; committed when
    ``commits/<batch>`` exists): which offsets each batch read up to."""
    offsets_dir = query_checkpoint / "offsets"
    commits_dir = query_checkpoint / "commits"
    if not offsets_dir.is_dir():
        return []
    batches = []
    for path in sorted(
        offsets_dir.iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else -1
    ):
        if not path.name.isdigit():
            continue
        lines = path.read_text().splitlines()
        if len(lines) < 3:  # being written
            continue
        # v1 / metadata (watermark, conf) / one line per source (a single Kafka source).
        metadata = json.loads(lines[1])
        ends: dict[tuple[str, int], int] = {}
        for line in lines[2:]:
            for topic, partitions in json.loads(line).items():
                for partition, offset in partitions.items():
                    ends[(topic, int(partition))] = int(offset)
        batches.append(
            CheckpointBatch(
                int(path.name),
                ends,
                int(metadata.get("batchWatermarkMs", 0)),
                (commits_dir / path.name).exists(),
            )
        )
    return batches


def batch_phases(
    records: Sequence[SourceRecord], batches: Sequence[CheckpointBatch]
) -> list[list[OracleRecord]]:
    """The records of each committed batch, in batch order (index = batch id), for
    :func:`oracle`, smoke markers marked as such.

    Fails if a record lies beyond the last committed batch: call it once the job has
    caught up (see :func:`caught_up`).
    """
    committed = [b for b in batches if b.committed]
    if [b.batch_id for b in committed] != list(range(len(committed))):
        raise AssertionError(f"committed batches are not 0..n: {[b.batch_id for b in committed]}")
    result: list[list[OracleRecord]] = [[] for _ in committed]
    for record in records:
        where = (record.topic, record.partition)
        for index, batch in enumerate(committed):
            if record.offset < batch.end_offsets.get(where, 0):
                result[index].append(
                    OracleRecord(
                        record.topic, record.value, record.timestamp_ms, record.is_smoke_marker
                    )
                )
                break
        else:
            raise AssertionError(f"record {where}@{record.offset} is in no committed batch")
    return result


def caught_up(records: Sequence[SourceRecord], batches: Sequence[CheckpointBatch]) -> bool:
    """True when the committed batches have read every record."""
    committed = [b for b in batches if b.committed]
    if not committed:
        return False
    ends = committed[-1].end_offsets
    latest: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        latest[key] = max(latest.get(key, -1), record.offset)
    return all(ends.get(key, 0) > offset for key, offset in latest.items())


def duplicate_event_ids(records: Sequence[SourceRecord]) -> list[str]:
    """event_ids in more than one record (a producer must never resend on its own)."""
    counts: Counter[str] = Counter()
    for record in records:
        if record.value is None or record.is_smoke_marker:
            continue
        try:
            event_id = orjson.loads(record.value).get("event_id")
        except (orjson.JSONDecodeError, AttributeError):
            continue
        if isinstance(event_id, str):
            counts[event_id] += 1
    return sorted(e for e, n in counts.items() if n > 1)
