"""The producers' ``acknowledged offsets`` line: what each partition's delivery reports
said, printed at the end of a run and read back by the checks that compare the topics
with what was acknowledged (tests/e2e)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from airlines.produce.publisher import (
    DeliveryStats,
    EventPublisher,
    PartitionAcks,
    parse_acknowledged,
)


def _report(topic: str, partition: int, offset: int) -> Any:
    return SimpleNamespace(topic=lambda: topic, partition=lambda: partition, offset=lambda: offset)


def _publisher() -> EventPublisher:
    publisher = EventPublisher.__new__(EventPublisher)  # no Kafka: the callback only
    publisher.stats = DeliveryStats()
    return publisher


def test_delivery_reports_become_one_span_per_partition() -> None:
    publisher = _publisher()
    for topic, partition, offset in [("a", 1, 7), ("a", 1, 5), ("a", 0, 0), ("b.x", 1, 9)]:
        publisher._on_delivery(None, _report(topic, partition, offset))
    publisher._on_delivery(SimpleNamespace(str=lambda: "timed out"), _report("a", 0, -1))
    stats = publisher.stats
    assert (stats.delivered, stats.failed) == (4, 1)
    assert stats.partitions == {
        ("a", 0): PartitionAcks(1, 0, 0),
        ("a", 1): PartitionAcks(2, 5, 7),
        ("b.x", 1): PartitionAcks(1, 9, 9),
    }
    line = stats.acknowledged_line()
    assert line == "acknowledged offsets: a/0 0-0 (1), a/1 5-7 (2), b.x/1 9-9 (1)"
    assert parse_acknowledged(f"progress\n{line}\n") == stats.partitions


def test_the_last_line_of_a_log_counts_and_none_is_empty() -> None:
    log = (
        "acknowledged offsets: east-coast-flights/0 0-9 (10)\n"
        "east-coast -> east-coast-flights: 12 delivered, 0 failed, 0 unacknowledged\n"
        "acknowledged offsets: east-coast-flights/0 0-11 (12)\n"
    )
    assert parse_acknowledged(log) == {("east-coast-flights", 0): PartitionAcks(12, 0, 11)}
    assert parse_acknowledged("1 delivered, 0 failed, 0 unacknowledged\n") == {}
