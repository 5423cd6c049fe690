"""Chaos: kill -9 a Kafka broker, a Redis primary and the job while the pipeline runs.

Three producers send live traffic at a steady rate; a feeder mixes in bad records,
stale events (late once the watermark has passed them) and events sent again
(duplicates); the job runs with a 2-second trigger under a supervisor that starts it
again whenever it exits, as Kubernetes would. On a schedule drawn from a seed
(``AIRLINES_CHAOS_SEED``), each fault happens once, in a seeded order, each after the
pipeline has made progress since the last one: a broker and a Redis primary are killed
and started again after a seeded outage, and the job is killed.

Afterwards, with everything caught up:

* Redis equals the oracle computed from every record in the topics, batch by batch as
  Spark's offset log says the job read them;
* each batch's logged figures equal the oracle's, so ``in = aggregated +
  dead-lettered + late + duplicates`` holds exactly, batch by batch;
* every rejected record is in the dead-letter topic with its reason;
* every acknowledged event is in its topic, and no producer wrote one twice.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airlines.cli.common import airlines_command
from airlines.config import AppConfig, dump_config
from airlines.contract.event import Region
from airlines.produce.publisher import DeliveryStats, producer_settings
from airlines.produce.run import produce
from airlines.produce.simulator import FleetSimulator
from airlines.store.cluster import cluster_health
from airlines.store.users import WRITER_USER
from airlines.stream import dead_letters
from airlines.stream.session import checkpoint_dir
from airlines_testkit.bad_records import bad_records
from airlines_testkit.job_log import logged_batches
from airlines_testkit.offset_log import (
    SourceRecord,
    batch_phases,
    caught_up,
    checkpoint_batches,
    duplicate_event_ids,
)
from airlines_testkit.oracle import config_oracle, differences
from airlines_testkit.services import window_hashes
from airlines_testkit.stack import FreshConfig, RunningStack, TopicMessage, read_topic

pytestmark = [
    pytest.mark.integration,
    pytest.mark.spark,
    pytest.mark.chaos,
    pytest.mark.timeout(600),
]

SEED = int(os.environ.get("AIRLINES_CHAOS_SEED", "20261202"))
RATE = 40.0  # events/s per producer
FAULTS = ("broker", "redis-primary", "job")


class JobSupervisor:
    """Runs ``airlines stream`` and starts it again whenever it exits, until stopped."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.argv, self.env, self.log = argv, env, log
        self.exits: list[int] = []
        self._current: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-supervisor")

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self.log.open("ab") as out:
                self._current = subprocess.Popen(
                    self.argv,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own group: a kill takes the JVM too
                )
            self.exits.append(self._current.wait())
            self._stopping.wait(1.0)  # a supervisor's back-off

    def kill(self) -> None:
        """kill -9 the job and its JVM."""
        assert self._current is not None
        os.killpg(self._current.pid, signal.SIGKILL)

    def stop(self) -> None:
        self._stopping.set()
        # Until the supervisor has ended: a job started just as the stop was asked for
        # is stopped too.
        deadline = time.monotonic() + 180
        while self._thread.is_alive() and time.monotonic() < deadline:
            current = self._current
            if current is not None and current.poll() is None:
                os.killpg(current.pid, signal.SIGTERM)
                try:
                    current.wait(90)
                except subprocess.TimeoutExpired:
                    os.killpg(current.pid, signal.SIGKILL)
            self._thread.join(5)
        assert not self._thread.is_alive(), "the job supervisor did not stop"

    def text(self) -> str:
        return self.log.read_text(errors="replace")


class Feeder:
    """Mixes bad records, stale events and repeats into the traffic; tracks deliveries."""

    def __init__(self, config: AppConfig, rng: random.Random) -> None:
        self.config, self.rng = config, rng
        self.acknowledged: list[tuple[str, int, int]] = []
        self.failed: list[str] = []
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feeder")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(120)

    def _run(self) -> None:
        from confluent_kafka import Producer

        producer = Producer(producer_settings(self.config.kafka))
        topics = self.config.topics
        sims = {t.name: FleetSimulator(t.region, fleet_size=12, seed=SEED + 1) for t in topics}
        catalogue = bad_records(sims[topics[0].name].event_at(datetime.now(UTC)))
        recent: list[tuple[str, bytes]] = []

        def delivered(err: Any, msg: Any) -> None:
            if err is not None:
                self.failed.append(str(err))
            else:
                self.acknowledged.append((msg.topic(), msg.partition(), msg.offset()))

        def send(topic: str, key: bytes, value: bytes | None) -> None:
            producer.produce(topic, value=value, key=key, on_delivery=delivered)
            self.sent += 1

        step = 0
        while not self._stop.wait(0.25):
            topic = self.rng.choice(topics).name
            now = datetime.now(UTC)
            kind = step % 4
            if kind == 0:
                bad = catalogue[(step // 4) % len(catalogue)]
                send(topic, b"bad", bad.value)
            elif kind == 1:  # 90 s old: late once the watermark (60 s) has passed it
                event = sims[topic].event_at(now - timedelta(seconds=90))
                send(topic, event.flight_id.encode(), event.to_json())
            elif kind == 2 and recent:  # sent again: a duplicate (or late, if old by now)
                again_topic, value = self.rng.choice(recent)
                send(again_topic, b"again", value)
            else:
                event = sims[topic].event_at(now)
                recent.append((topic, event.to_json()))
                send(topic, event.flight_id.encode(), event.to_json())
            step += 1
            producer.poll(0)
        remaining = producer.flush(60)
        if remaining:
            self.failed.append(f"{remaining} not delivered")


def _committed(config: AppConfig) -> int:
    return sum(b.committed for b in checkpoint_batches(Path(checkpoint_dir(config, "analytics"))))


def _wait(
    what: str, condition: Callable[[], bool], timeout: float, state: Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g}s; {state()}"
        time.sleep(0.5)


def _progress(config: AppConfig, batches: int, state: Callable[[], str]) -> None:
    """Wait until the job has committed ``batches`` more batches."""
    target = _committed(config) + batches
    _wait(f"{batches} more committed batches", lambda: _committed(config) >= target, 180, state)


@pytest.fixture
def chaos_config(
    stack: RunningStack, fresh_config: FreshConfig, tmp_path: Path
) -> tuple[AppConfig, Path]:
    """The test's config (Redis as the admin, to read the results back), and the job's
    (the same, logged in to Redis as the writer)."""
    data = fresh_config.config.model_dump(by_alias=True)
    data["streaming"].update({"trigger": "2s"})
    config = AppConfig.model_validate(data)
    path = tmp_path / "chaos.yaml"
    job = config.model_copy(update={"redis": stack.redis_user(WRITER_USER, config.redis)})
    path.write_text(dump_config(job))
    return config, path


def test_nothing_is_lost_or_counted_twice_when_things_are_killed(
    stack: RunningStack,
    fresh_config: FreshConfig,
    chaos_config: tuple[AppConfig, Path],
    tmp_path: Path,
) -> None:
    config, path = chaos_config
    rng = random.Random(SEED)
    env = {
        **os.environ,
        **fresh_config.env,
        "NO_COLOR": "1",
        # Keep every batch's offset log entry (Spark keeps the last 100): the oracle
        # reads which records each batch took.
        "PYSPARK_SUBMIT_ARGS": "--conf spark.sql.streaming.minBatchesToRetain=100000 pyspark-shell",
    }
    job = JobSupervisor(
        [*airlines_command(), "stream", "--config", str(path)], env, tmp_path / "job.log"
    )
    stop_producers = threading.Event()
    stats: dict[Region, DeliveryStats] = {}

    def producer(region: Region) -> None:
        stats[region] = produce(
            config,
            region,
            rate=RATE,
            count=None,
            seed=SEED,
            stop=stop_producers,
            track_offsets=True,
        )

    producers = [threading.Thread(target=producer, args=(r,)) for r in Region]
    feeder = Feeder(config, random.Random(SEED + 1))

    def state() -> str:
        return f"{_committed(config)} batches committed, job exits {job.exits}, log: " + (
            job.text()[-1500:] if job.log.exists() else "(none)"
        )

    faults = list(FAULTS)
    rng.shuffle(faults)
    schedule: list[str] = []
    try:
        job.start()
        for thread in producers:
            thread.start()
        feeder.start()
        for fault in faults:
            # Each fault once the pipeline has made progress since the last one, at a
            # seeded point of the trigger cycle.
            _progress(config, 2, state)
            time.sleep(rng.uniform(0, 2))
            if fault == "broker":
                broker = rng.randrange(3)
                outage = rng.uniform(2, 6)
                stack.kill_broker(broker)
                time.sleep(outage)  # the outage itself
                stack.start_broker(broker)
                stack.ensure_healthy()  # starts it again while its old registration lingers
                schedule.append(f"kafka-{broker} down {outage:.1f}s")
            elif fault == "redis-primary":
                health = cluster_health(config.redis.nodes, stack.redis_access)
                victim = f"redis-{rng.choice(health.primaries()).port}"
                outage = rng.uniform(2, 6)
                stack.kill_service(victim)
                time.sleep(outage)
                stack.start_service(victim)
                schedule.append(f"{victim} (primary) down {outage:.1f}s")
            else:
                job.kill()
                schedule.append("job killed")
        _progress(config, 2, state)
    except BaseException:
        job.stop()  # a supervisor left running would restart the job for ever
        raise
    finally:
        stop_producers.set()
        for thread in producers:
            thread.join(120)
        feeder.stop()
    print(f"seed {SEED}: {'; '.join(schedule)}")

    topics = [t.name for t in config.topics]
    messages: list[TopicMessage] = [m for t in topics for m in read_topic(config, t)]
    records: list[SourceRecord] = [m.record() for m in messages]
    checkpoint = Path(checkpoint_dir(config, "analytics"))
    try:
        _wait(
            "the job has read every record",
            lambda: caught_up(records, checkpoint_batches(checkpoint)),
            180,
            state,
        )
    finally:
        job.stop()
        stack.ensure_healthy()

    # No acknowledged event is missing, and no producer wrote one twice.
    where = {(r.topic, r.partition, r.offset) for r in records}
    acknowledged = [a for s in stats.values() for a in s.acknowledged] + feeder.acknowledged
    assert all(s.failed == 0 for s in stats.values()), {r: s.errors for r, s in stats.items()}
    assert not feeder.failed, feeder.failed
    assert len(acknowledged) == len(set(acknowledged)) == len(records)
    assert set(acknowledged) == where
    assert not duplicate_event_ids([r for r in records if r.key not in (b"again", b"bad")])

    batches = checkpoint_batches(checkpoint)
    phases = batch_phases(records, batches)
    expected = config_oracle(config, phases)
    # Redis equals the oracle ...
    problems = differences(expected.windows, window_hashes(config))
    assert not problems, f"{len(problems)} differences, first: {problems[:5]}"
    # ... and every record is accounted for, batch by batch, as the job logged it.
    assert (
        expected.aggregated_events + expected.rejected + expected.late_events + expected.duplicates
        == len(records)
    )
    assert expected.rejected > 0, expected
    assert expected.late_events > 0, expected
    assert expected.duplicates > 0, expected
    logged = {b.batch_id: b for b in logged_batches(job.text())}  # a replayed batch: its last
    assert len(logged) >= len(phases) - 3  # a kill may land between a commit and its log line
    for batch_id, batch in logged.items():
        figures = expected.phases[batch_id]
        assert (
            batch.input_rows,
            batch.dead_lettered,
            batch.late_events,
            batch.duplicates,
            batch.markers,
        ) == (
            figures.records,
            figures.rejected,
            figures.late,
            figures.duplicates,
            figures.markers,
        ), batch_id
    # Every rejected record is dead-lettered (at least once), with its reason.
    rejected = {(r.topic, r.partition, r.offset) for r in records if r.key == b"bad"}
    assert len(rejected) == expected.rejected
    letters = read_topic(config, config.dead_letter.topic)
    sources = {
        (
            m.headers[dead_letters.HEADER_SOURCE_TOPIC],
            int(m.headers[dead_letters.HEADER_SOURCE_PARTITION]),
            int(m.headers[dead_letters.HEADER_SOURCE_OFFSET]),
        )
        for m in letters
    }
    assert sources == rejected
    assert all(m.headers[dead_letters.HEADER_REASON].strip() for m in letters)
    # The chaos happened: the job was started again at least once.
    assert len(job.exits) >= 2, job.exits
