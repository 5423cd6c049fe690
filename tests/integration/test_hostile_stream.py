"""Hostile input through Kafka and the real job: it never stops on a record.

A seeded mix of valid events and malformed records of every kind
(:mod:`airlines_testkit.hostile`), plus records as large as the broker accepts (a valid
event carrying a huge unknown field, and an invalid one with a huge text field), goes
through ``airlines stream --available-now`` with a small driver heap. The job must
finish, every record must be aggregated or dead-lettered with a short reason, Redis
must equal the oracle, and the logged counts must reconcile.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from airlines.config import AppConfig
from airlines.contract.event import MAX_RECORD_BYTES, Region
from airlines.produce.publisher import producer_settings
from airlines.produce.simulator import FleetSimulator
from airlines.stream import dead_letters
from airlines.stream.session import checkpoint_dir
from airlines_testkit.hostile import hostile_record
from airlines_testkit.job_log import logged_batches
from airlines_testkit.offset_log import batch_phases, caught_up, checkpoint_batches
from airlines_testkit.oracle import config_oracle, differences, parse_valid
from airlines_testkit.services import produce_messages, window_hashes
from airlines_testkit.stack import FreshConfig, read_topic, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.spark]

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


class _Reports(list[Any]):
    def append_error(self, error: Any, message: Any) -> None:
        self.append(error)


def _send_largest(config: AppConfig, topic: str, build: Any) -> int:
    """Send the largest record ``build(size)`` the broker accepts; returns its size."""
    from confluent_kafka import KafkaError, Producer

    # No compression and no client-side limit: the broker's limit is the one that counts.
    settings = {
        **producer_settings(config.kafka),
        "compression.type": "none",
        "message.max.bytes": 8_000_000,
    }
    producer = Producer(settings)
    size = 1_048_576
    outcome = _Reports()
    while size > 900_000:
        outcome.clear()
        producer.produce(topic, value=build(size), key=b"big", on_delivery=outcome.append_error)
        producer.flush(60)
        assert outcome, "no delivery report"
        if outcome[0] is None:
            return size
        assert outcome[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, outcome
        size -= 256
    raise AssertionError("the broker took no record near its limit")


def _send_compressed(config: AppConfig, topic: str, value: bytes) -> None:
    """Send ``value`` compressed (zstd), whatever its size; the broker must accept it."""
    from confluent_kafka import Producer

    settings = {
        **producer_settings(config.kafka),
        "compression.type": "zstd",
        "message.max.bytes": 100_000_000,  # the client's own bound, on the uncompressed
    }
    producer = Producer(settings)
    outcome = _Reports()
    producer.produce(topic, value=value, key=b"inflated", on_delivery=outcome.append_error)
    producer.flush(60)
    assert outcome == [None], outcome


def test_the_job_never_stops_on_hostile_input(fresh_config: FreshConfig) -> None:
    config = fresh_config.config
    topics = [t.name for t in config.topics]
    rng = random.Random(8)
    sim = FleetSimulator(Region.EAST_COAST, fleet_size=12, seed=8)
    valid = [sim.event_at(T0 + timedelta(seconds=i)).to_json() for i in range(300)]
    messages = []
    for template in valid:
        kind, value = ("valid", template) if rng.random() < 0.4 else hostile_record(template, rng)
        messages.append((rng.choice(topics), kind, value))

    produce_messages(config, [(t, k.encode(), v) for t, k, v in messages])

    extra = sim.event_at(T0 + timedelta(seconds=301)).to_json()  # sent only padded

    def padded(size: int) -> bytes:  # valid: an unknown field is ignored
        head = extra[:-1] + b',"x_padding":"'
        return head + b"x" * (size - len(head) - 2) + b'"}'

    def oversized(size: int) -> bytes:  # invalid: airline far too long
        data = orjson.loads(valid[1])
        data["airline"] = ""
        text = orjson.dumps(data)
        at = text.index(b'"airline":""') + len(b'"airline":"')
        return text[:at] + b"y" * (size - len(text)) + text[at:]

    sizes = [_send_largest(config, topics[0], padded), _send_largest(config, topics[1], oversized)]
    assert all(size > 1_000_000 for size in sizes), sizes
    # A record that decompresses to 32 times the size bound: its producer compressed it
    # to a few kilobytes, which the broker accepts.
    inflated = padded(32 * MAX_RECORD_BYTES)
    _send_compressed(config, topics[2], inflated)

    run = run_cli(
        "stream",
        "--config",
        str(fresh_config.path),
        "--available-now",
        "--driver-memory",
        "512m",
        env=fresh_config.env,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    records = [m.record() for t in topics for m in read_topic(config, t)]
    batches = checkpoint_batches(Path(checkpoint_dir(config, "analytics")))
    assert caught_up(records, batches)
    expected = config_oracle(config, batch_phases(records, batches))
    logged = logged_batches(run.stderr + run.stdout)
    problems = differences(expected.windows, window_hashes(config))
    assert not problems, (problems[:3], logged, expected.phases)
    assert sum(b.input_rows for b in logged) == len(records)
    assert sum(b.dead_lettered for b in logged) == expected.rejected
    assert (
        expected.aggregated_events + expected.rejected + expected.late_events + expected.duplicates
        == len(records)
    )
    # Every rejected record is in the dead-letter topic, whole, with a short reason.
    rejected = {
        (r.topic, r.partition, r.offset): r.value for r in records if parse_valid(r.value) is None
    }
    assert len(rejected) == expected.rejected > 100
    letters = read_topic(config, config.dead_letter.topic)
    by_source = {
        (
            m.headers[dead_letters.HEADER_SOURCE_TOPIC],
            int(m.headers[dead_letters.HEADER_SOURCE_PARTITION]),
            int(m.headers[dead_letters.HEADER_SOURCE_OFFSET]),
        ): m
        for m in letters
    }
    assert set(by_source) == set(rejected)
    for where, value in rejected.items():
        letter = by_source[where]
        assert 0 < len(letter.headers[dead_letters.HEADER_REASON]) < 4000, where
        if value is not None and len(value) > dead_letters.DEAD_LETTER_MAX_VALUE:
            assert letter.value == value[: dead_letters.DEAD_LETTER_MAX_VALUE]
            assert letter.headers[dead_letters.HEADER_TRUNCATED] == str(len(value))
        else:
            assert letter.value == value, where
            assert dead_letters.HEADER_TRUNCATED not in letter.headers
    assert any(dead_letters.HEADER_TRUNCATED in m.headers for m in letters)  # the large one
    # The inflated record: rejected unread, for its size.
    (letter,) = [
        m for m in letters if m.headers.get(dead_letters.HEADER_TRUNCATED) == str(len(inflated))
    ]
    assert letter.headers[dead_letters.HEADER_REASON] == (
        f"value: {len(inflated)} bytes, more than the {MAX_RECORD_BYTES} a record may have"
    )
