"""Producers against real brokers: exactly once, nothing acknowledged is lost, clear errors."""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from airlines.cli.common import airlines_command
from airlines.config import AppConfig
from airlines.contract.event import FlightEvent, Region
from airlines.kafka.settings import librdkafka_settings
from airlines.produce.run import produce
from airlines.produce.simulator import FleetSimulator
from airlines_testkit.stack import FreshConfig, RunningStack, read_topic, run_cli

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "producers" / "samples"


@pytest.mark.parametrize("region", list(Region))
def test_every_event_arrives_exactly_once_with_key_and_content(
    stack: RunningStack, fresh_config: FreshConfig, region: Region
) -> None:
    config = fresh_config.config
    topic = config.topic_for_region(region).name
    count, seed = 300, 41

    result = run_cli(
        "produce",
        "--region",
        region.value,
        "--count",
        str(count),
        "--seed",
        str(seed),
        "--rate",
        "2000",
        env=fresh_config.env,
    )
    assert result.returncode == 0, result.stderr
    assert f"{count} delivered, 0 failed, 0 unacknowledged" in result.stdout

    messages = read_topic(config, topic)
    events = [FlightEvent.from_json(m.value or b"") for m in messages]
    assert len(events) == count
    # The summary says where each acknowledged event is: per partition, its offsets
    # (a fresh topic, one producer: each partition's offsets from 0, without a gap).
    offsets: dict[int, list[int]] = {}
    for m in messages:
        offsets.setdefault(m.partition, []).append(m.offset)
    expected = ", ".join(
        f"{topic}/{partition} 0-{len(found) - 1} ({len(found)})"
        for partition, found in sorted(offsets.items())
    )
    assert all(sorted(found) == list(range(len(found))) for found in offsets.values())
    assert f"acknowledged offsets: {expected}" in result.stdout
    assert len({e.event_id for e in events}) == count
    assert all(m.key == e.flight_id.encode() for m, e in zip(messages, events, strict=True))
    assert {e.route_type for e in events} == {region}

    # Content: the simulator is deterministic, so replaying the seed at the consumed
    # event times must give back exactly the same events, field for field.
    events.sort(key=lambda e: e.timestamp)
    simulator = FleetSimulator(region, fleet_size=config.producers.fleet_size, seed=seed)
    assert [simulator.event_at(e.timestamp) for e in events] == events


def test_no_acknowledged_event_is_lost_when_a_broker_is_killed(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    config = fresh_config.config
    region = Region.EAST_COAST
    topic = config.topic_for_region(region).name
    stop = threading.Event()
    outcome: dict[str, object] = {}

    progress: list[tuple[int, int]] = []  # (queued, delivered), about once a second

    def run() -> None:
        outcome["stats"] = produce(
            config,
            region,
            rate=400,
            count=6000,
            seed=5,
            stop=stop,
            track_offsets=True,
            on_progress=lambda s: progress.append((s.queued, s.delivered)),
        )

    def wait_for(what: str, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert producer.is_alive(), (what, progress[-3:])
            assert time.monotonic() < deadline, (what, progress[-3:])
            time.sleep(0.1)

    producer = threading.Thread(target=run)
    producer.start()
    try:
        wait_for("deliveries", lambda: bool(progress) and progress[-1][1] >= 500)
        stack.kill_broker(1)  # kill -9 while producing
        queued_at_kill = progress[-1][0]
        # Keep producing while the broker is down (its partitions' leaders move) ...
        wait_for("sends while down", lambda: progress[-1][0] >= queued_at_kill + 800)
        stack.start_broker(1)  # ... then bring it back, as a supervisor would
        producer.join(timeout=120)
        assert not producer.is_alive(), "producer did not finish"
    finally:
        stop.set()
        producer.join(timeout=60)
        stack.ensure_healthy()

    stats = outcome["stats"]
    from airlines.produce.publisher import DeliveryStats

    assert isinstance(stats, DeliveryStats)
    assert stats.delivered > 0
    assert stats.delivered + stats.failed == stats.queued == 6000
    acknowledged = set(stats.acknowledged)
    assert len(acknowledged) == stats.delivered

    messages = read_topic(config, topic, timeout=120)
    ids = [orjson.loads(m.value or b"")["event_id"] for m in messages]
    # acks=all with min.insync.replicas=2: the failover failed no send and lost no
    # acknowledged event; idempotence: the retries it caused wrote no duplicate.
    assert stats.failed == 0, stats.errors
    assert len(set(ids)) == stats.delivered == 6000
    assert len(ids) == len(set(ids))


def test_replay_sends_valid_rows_in_order_and_reports_bad_ones(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    topic = fresh_config.config.topics[0].name
    source = SAMPLES / "with-errors.jsonl"
    result = run_cli("replay", str(source), "--topic", topic, env=fresh_config.env)
    assert result.returncode == 1
    assert f"{source}:2: ticket_price: Input should be greater than 0" in result.stderr
    assert f"{source}:3: not valid JSON" in result.stderr
    assert f"{source}:4: flight_status must be 'delayed' iff delay_minutes >= 15" in result.stderr
    assert "1 delivered, 0 failed" in result.stdout

    sent = FlightEvent.from_json(source.read_bytes().splitlines()[0])
    messages = read_topic(fresh_config.config, topic)
    assert [FlightEvent.from_json(m.value or b"") for m in messages] == [sent]  # event time kept


def test_replay_stops_at_a_line_it_cannot_read_and_sends_what_came_before(
    stack: RunningStack, fresh_config: FreshConfig, tmp_path: Path
) -> None:
    """A line that is not UTF-8 (or too long) ends the replay there: the rows before it
    are delivered and reported, the exit code says it stopped."""
    topic = fresh_config.config.topics[0].name
    lines = (SAMPLES / "east-coast.csv").read_bytes().splitlines()
    source = tmp_path / "latin1.csv"
    bad = lines[3].replace(b",American,", b",Am\xe9rican,").replace(b",Delta,", b",D\xe9lta,")
    assert bad != lines[3]
    source.write_bytes(b"\n".join([*lines[:3], bad, *lines[4:6]]) + b"\n")
    result = run_cli("replay", str(source), "--topic", topic, env=fresh_config.env)
    assert result.returncode == 1
    assert f"{source}:4: not UTF-8 (byte 0xe9 at column " in result.stderr
    assert "2 delivered, 0 failed" in result.stdout
    messages = read_topic(fresh_config.config, topic)
    sent = sorted(FlightEvent.from_json(m.value or b"").event_id for m in messages)
    expected = sorted(str(row.split(b",")[0].decode()) for row in lines[1:3])
    assert [str(i) for i in sent] == expected


def test_replay_holds_back_events_dated_past_the_bound_unless_allowed(
    stack: RunningStack, fresh_config: FreshConfig, tmp_path: Path
) -> None:
    """The job would dead-letter an event dated more than streaming.maxFutureSkew after
    the clock it is sent by; replay says so per row and does not send it."""
    topic = fresh_config.config.topics[0].name
    sim = FleetSimulator(Region.EAST_COAST, fleet_size=4, seed=5)
    old = sim.event_at(datetime(2015, 3, 1, 9, tzinfo=UTC))  # past years replay fine
    ahead = sim.event_at(datetime(2999, 1, 1, tzinfo=UTC))
    recent = sim.event_at(datetime.now(UTC))
    source = tmp_path / "mixed.jsonl"
    source.write_bytes(b"\n".join(e.to_json() for e in (old, ahead, recent)) + b"\n")

    checked = run_cli("replay", str(source), "--topic", topic, "--check")  # no config
    held = run_cli("replay", str(source), "--topic", topic, env=fresh_config.env)
    for result in (checked, held):
        assert result.returncode == 1
        assert (
            f"{source}:2: timestamp: 2999-01-01T00:00:00.000000Z is more than 1h "
            "(streaming.maxFutureSkew) after this machine's clock "
        ) in result.stderr, result.stderr
        assert f"{source}:1:" not in result.stderr
        assert f"{source}:3:" not in result.stderr
    assert "2 delivered, 0 failed" in held.stdout
    sent = [FlightEvent.from_json(m.value or b"") for m in read_topic(fresh_config.config, topic)]
    assert sent == [old, recent]

    allowed = run_cli(
        "replay", str(source), "--topic", topic, "--allow-future", env=fresh_config.env
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "3 delivered, 0 failed" in allowed.stdout


def test_replay_of_a_whole_file_keeps_file_order(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    config = fresh_config.config
    topic = config.dead_letter.topic  # any empty topic will do; it has several partitions
    source = SAMPLES / "east-coast.csv"
    result = run_cli("replay", str(source), "--topic", topic, "--rate", "500", env=fresh_config.env)
    assert result.returncode == 0, result.stderr
    messages = read_topic(config, topic)
    events = [FlightEvent.from_json(m.value or b"") for m in messages]
    assert len(events) == 40
    # Order is kept per key (partition); within a flight, file order is event-time order.
    by_flight: dict[str, list[FlightEvent]] = {}
    for event in events:
        by_flight.setdefault(event.flight_id, []).append(event)
    for flight_events in by_flight.values():
        times = [e.timestamp for e in flight_events]
        assert times == sorted(times)


def test_producing_to_a_missing_topic_is_a_clear_error(
    stack: RunningStack, fresh_config: FreshConfig, tmp_path: Path
) -> None:
    data = fresh_config.config.model_dump(by_alias=True, mode="json")
    data["topics"][0]["name"] = f"missing-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "missing.yaml"
    import yaml

    path.write_text(yaml.safe_dump(data))
    result = run_cli("produce", "--region", "east-coast", "--count", "1", "--config", str(path))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert data["topics"][0]["name"] in result.stderr


def test_a_producer_waits_for_its_topic_and_then_sends(
    stack: RunningStack, fresh_config: FreshConfig, tmp_path: Path
) -> None:
    """On Kubernetes the topics are created by a hook after the producers start: with
    --wait-for-topic a producer waits (alive) and sends once the topic appears."""
    import subprocess
    import sys

    import yaml

    from airlines.kafka.admin import TopicSpec, delete_topics, ensure_topics

    data = fresh_config.config.model_dump(by_alias=True, mode="json")
    topic = f"late-{uuid.uuid4().hex[:6]}"
    data["topics"][0]["name"] = topic
    path = tmp_path / "late.yaml"
    path.write_text(yaml.safe_dump(data))
    producer = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "airlines"),
            "produce",
            "--region",
            "east-coast",
            "--count",
            "5",
            "--wait-for-topic",
            "120s",
            "--config",
            str(path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Still waiting (not exited) after a couple of checks; then the topic appears.
        with pytest.raises(subprocess.TimeoutExpired):
            producer.wait(5)
        ensure_topics(fresh_config.config.kafka, [TopicSpec(topic, 1, 1)])
        out, err = producer.communicate(timeout=120)
        assert producer.returncode == 0, err
        assert "5 delivered, 0 failed, 0 unacknowledged" in out, out
        assert len(read_topic(fresh_config.config, topic)) == 5
    finally:
        if producer.poll() is None:
            producer.kill()
        delete_topics(fresh_config.config.kafka, [topic])


def test_waiting_for_a_topic_gives_up_with_a_clear_error(
    stack: RunningStack, fresh_config: FreshConfig, tmp_path: Path
) -> None:
    data = fresh_config.config.model_dump(by_alias=True, mode="json")
    data["topics"][0]["name"] = f"never-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "never.yaml"
    import yaml

    path.write_text(yaml.safe_dump(data))
    started = time.monotonic()
    result = run_cli(
        "produce",
        "--region",
        "east-coast",
        "--count",
        "1",
        "--wait-for-topic",
        "3s",
        "--config",
        str(path),
    )
    assert result.returncode == 2
    assert time.monotonic() - started >= 3
    assert "does not exist after waiting 3s" in result.stderr
    assert data["topics"][0]["name"] in result.stderr
    bad = run_cli(
        "produce", "--region", "east-coast", "--wait-for-topic", "soon", "--config", str(path)
    )
    assert bad.returncode == 2
    assert "--wait-for-topic" in bad.stderr


def _message_count(config: AppConfig, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**librdkafka_settings(config.kafka), "group.id": "count"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        )
    finally:
        consumer.close()


def test_at_full_speed_event_times_stay_on_the_wall_clock_and_every_event_counts(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    """No rate limit: events are made in bursts, yet each carries the wall-clock time it
    was made at, is valid, and is counted from its own delivery report."""
    config = fresh_config.config
    region = Region.WEST_COAST
    topic = config.topic_for_region(region).name
    before = datetime.now(UTC)
    stats = produce(config, region, rate=None, count=20_000, seed=9, stop=threading.Event())
    after = datetime.now(UTC)
    assert (stats.queued, stats.delivered, stats.failed, stats.pending) == (20_000, 20_000, 0, 0)
    events = [FlightEvent.from_json(m.value or b"") for m in read_topic(config, topic)]
    assert len({e.event_id for e in events}) == len(events) == 20_000
    assert all(before <= e.timestamp <= after for e in events)
    # The simulator's own events, as the model path makes them for the same times.
    events.sort(key=lambda e: e.timestamp)
    simulator = FleetSimulator(region, fleet_size=config.producers.fleet_size, seed=9)
    assert [simulator.event_at(e.timestamp) for e in events] == events


def test_sigterm_flushes_and_every_event_sent_is_counted(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    import signal
    import subprocess

    config = fresh_config.config
    topic = config.topic_for_region(Region.EAST_COAST).name
    producer = subprocess.Popen(
        [*airlines_command(), "produce", "--region", "east-coast", "--rate", "20000"],
        env={**os.environ, "COLUMNS": "250", "TERM": "dumb", **fresh_config.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while _message_count(config, topic) < 3000:
            assert producer.poll() is None, producer.communicate()
            assert time.monotonic() < deadline, "the producer sent nothing"
            time.sleep(0.2)
        producer.send_signal(signal.SIGTERM)
        out, err = producer.communicate(timeout=120)
    finally:
        if producer.poll() is None:
            producer.kill()
    assert producer.returncode == 0, err
    found = re.search(r"(\d+) delivered, 0 failed, 0 unacknowledged", out)
    assert found, out
    events = [FlightEvent.from_json(m.value or b"") for m in read_topic(config, topic)]
    assert len({e.event_id for e in events}) == len(events) == int(found.group(1)) >= 3000
