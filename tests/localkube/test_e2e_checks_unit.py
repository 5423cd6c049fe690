"""The e2e tier's check that every acknowledged event is in the topics, on records made
here (it reports what a real run would need to know: which partition, which offsets)."""

from __future__ import annotations

from tests.e2e.analytics import missing_acknowledged

from airlines.contract.smoke import SMOKE_HEADER, SMOKE_KEY
from airlines.produce.publisher import PartitionAcks
from airlines_testkit.offset_log import SourceRecord


def _records(topic: str, partition: int, offsets: range, marker_at: int = -1) -> list[SourceRecord]:
    return [
        SourceRecord(topic, partition, o, SMOKE_KEY, b"{}", header_names=(SMOKE_HEADER,))
        if o == marker_at
        else SourceRecord(topic, partition, o, b"AA1", b"{}")
        for o in offsets
    ]


def test_every_acknowledged_event_held_is_no_problem() -> None:
    # Two producer runs on partition 0, a smoke marker between them.
    records = _records("t", 0, range(0, 21), marker_at=10)
    acked = [(("t", 0), PartitionAcks(10, 0, 9)), (("t", 0), PartitionAcks(10, 11, 20))]
    assert missing_acknowledged(records, acked) == []


def test_missing_offsets_are_named_with_the_partition() -> None:
    records = [r for r in _records("t", 1, range(0, 30)) if r.offset not in (3, 4)]
    problems = missing_acknowledged(records, [(("t", 1), PartitionAcks(30, 0, 29))])
    assert problems == [
        "t/1: 30 events acknowledged at offsets 0-29, 28 of them in the log; "
        "offsets it lacks: [3, 4] (its last offset: 29)"
    ]
    # A truncated log: the acknowledged tail is gone.
    truncated = _records("t", 1, range(0, 25))
    problems = missing_acknowledged(truncated, [(("t", 1), PartitionAcks(30, 0, 29))])
    assert problems == [
        "t/1: 30 events acknowledged at offsets 0-29, 25 of them in the log; "
        "offsets it lacks: [25, 26, 27, 28, 29] (its last offset: 24)"
    ]


def test_a_smoke_marker_in_place_of_an_event_is_a_missing_event() -> None:
    records = _records("t", 0, range(0, 5), marker_at=2)
    problems = missing_acknowledged(records, [(("t", 0), PartitionAcks(5, 0, 4))])
    assert len(problems) == 1
    assert "4 of them in the log" in problems[0]
