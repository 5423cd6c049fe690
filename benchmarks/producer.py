"""The producer: events per second one process gets acknowledged by the stack's brokers.

Every Kafka figure writes to a topic of its own (3 partitions, replication factor 3,
``min.insync.replicas`` 2), deleted afterwards, with the producers' settings
(idempotent, ``acks=all``, lz4) and counts an event only once its delivery report says
the brokers have it:

* **the producer**: ``airlines produce``'s loop (:func:`airlines.produce.run.produce`),
  no rate limit, the default fleet;
* **a model per event** (same run, same brokers), the obvious loop: per event, build and
  validate the pydantic ``FlightEvent``, ``to_json``, ``produce`` with a callback of
  its own, ``poll(0)``;
* **Kafka alone**: records made beforehand, sent by the same publisher (what the
  client and brokers allow with no simulator at all).

Without Kafka: the simulator's bytes (``record_at``) beside the pydantic path
(``event_at`` + ``to_json``) it replaced.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airlines.config import AppConfig, TopicConfig
from airlines.config.types import split_endpoint
from airlines.contract.event import Region
from airlines.kafka.admin import TopicSpec, delete_topics, ensure_topics
from airlines.produce.publisher import EventPublisher, producer_settings
from airlines.produce.run import FLUSH_TIMEOUT_S, produce
from airlines.produce.simulator import FleetSimulator
from benchmarks.figures import Figure
from benchmarks.procs import cpu_seconds, listening_pids

TARGET_EVENTS_PER_S = 150_000
REGION = Region.EAST_COAST
EVENTS = 300_000
OLD_EVENTS = 60_000
SIMULATED = 200_000
MODELLED = 30_000


@dataclass(frozen=True)
class Run:
    rate: float  # events/s
    cpu_us: float  # this process (all its threads), µs per event
    brokers_us: float  # the brokers' processes, µs per event


def _rate(count: int, run: Callable[[], int], brokers: Sequence[int] = ()) -> Run:
    """How fast ``run`` went (it returns the events delivered), and the CPU it took."""
    cpu, brokers_cpu = time.process_time(), cpu_seconds(brokers)
    started = time.perf_counter()
    delivered = run()
    seconds = time.perf_counter() - started
    if delivered != count:
        raise RuntimeError(f"benchmark: {count - delivered} of {count} events not delivered")
    return Run(
        count / seconds,
        (time.process_time() - cpu) / count * 1e6,
        (cpu_seconds(brokers) - brokers_cpu) / count * 1e6,
    )


def _new_producer(config: AppConfig, topic: str) -> int:
    bench = config.model_copy(update={"topics": [TopicConfig(name=topic, region=REGION)]})
    stats = produce(bench, REGION, rate=None, count=EVENTS, seed=1, stop=threading.Event())
    return stats.delivered if not stats.failed else 0


def _model_per_event_producer(config: AppConfig, topic: str) -> int:
    """The obvious loop: a model per event, a callback per send, a poll per send."""
    from confluent_kafka import Producer

    simulator = FleetSimulator(REGION, fleet_size=config.producers.fleet_size, seed=1)
    producer = Producer(producer_settings(config.kafka))
    delivered = [0]

    def on_delivery(err: Any, msg: Any) -> None:
        if err is None:
            delivered[0] += 1

    for _ in range(OLD_EVENTS):
        event = simulator.event_at(datetime.now(UTC))
        key, value = event.flight_id.encode(), event.to_json()
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(FLUSH_TIMEOUT_S)
    return delivered[0]


def _kafka_alone(config: AppConfig, topic: str, records: list[tuple[bytes, bytes]]) -> int:
    publisher = EventPublisher(config.kafka)
    for key, value in records:
        publisher.send_raw(topic, key, value)
    publisher.flush(FLUSH_TIMEOUT_S)
    return publisher.stats.delivered if not publisher.stats.failed else 0


def _simulated(fleet_size: int) -> Run:
    simulator = FleetSimulator(REGION, fleet_size=fleet_size, seed=1)
    record_at = simulator.record_at

    def run() -> int:
        for _ in range(SIMULATED):
            record_at(time.time_ns() // 1000)
        return SIMULATED

    return _rate(SIMULATED, run)


def _modelled(fleet_size: int) -> Run:
    simulator = FleetSimulator(REGION, fleet_size=fleet_size, seed=1)

    def run() -> int:
        for _ in range(MODELLED):
            simulator.event_at(datetime.now(UTC)).to_json()
        return MODELLED

    return _rate(MODELLED, run)


def bench_producer(config: AppConfig, password: str | None = None) -> list[Figure]:
    """Events/s of one producer process, beside the old loop and the simulator alone."""
    del password  # Kafka only
    fleet = config.producers.fleet_size
    simulated, modelled = _simulated(fleet), _modelled(fleet)
    maker = FleetSimulator(REGION, fleet_size=fleet, seed=2)
    records = [maker.record_at(time.time_ns() // 1000) for _ in range(EVENTS)]
    ports = [split_endpoint(server)[1] for server in config.kafka.bootstrap_servers]
    brokers = list(listening_pids(ports).values())
    topics = {name: f"bench-{name}-{os.getpid()}" for name in ("new", "old", "kafka")}
    ensure_topics(config.kafka, [TopicSpec(t, 3, 3) for t in topics.values()])
    try:
        new = _rate(EVENTS, lambda: _new_producer(config, topics["new"]), brokers)
        old = _rate(OLD_EVENTS, lambda: _model_per_event_producer(config, topics["old"]), brokers)
        alone = _rate(EVENTS, lambda: _kafka_alone(config, topics["kafka"], records), brokers)
    finally:
        delete_topics(config.kafka, list(topics.values()))
    size = sum(len(value) for _, value in records) / len(records)
    client = config.kafka.producer
    settings = (
        f"{EVENTS:,} events of {size:.0f} bytes, fleet {fleet}, RF 3, acks=all, idempotent, "
        f"{client.compression}, linger {client.linger_ms} ms, batch {client.batch_size:,} B"
    )
    cores = os.cpu_count() or 1
    figures = [
        Figure(
            part="producer",
            name="events/s delivered, one process (airlines produce's loop)",
            value=new.rate,
            unit="events/s",
            baseline_name="a model per event (pydantic, callback + poll a send)",
            baseline_value=old.rate,
            target=TARGET_EVENTS_PER_S,
            note=settings,
        ),
        Figure(
            part="producer",
            name="producer CPU per event delivered (all its threads)",
            value=new.cpu_us,
            unit="µs/event",
            better="lower",
            baseline_name="a model per event",
            baseline_value=old.cpu_us,
        ),
        Figure(
            part="producer",
            name="brokers' CPU per event delivered (3 brokers)",
            value=new.brokers_us,
            unit="µs/event",
            better="lower",
            baseline_name="a model per event",
            baseline_value=old.brokers_us,
            note="" if brokers else "the brokers' processes were not found: not measured",
        ),
        Figure(
            part="producer",
            name="events/s delivered, records made beforehand (Kafka alone)",
            value=alone.rate,
            unit="events/s",
            baseline_name="airlines produce's loop",
            baseline_value=new.rate,
            target=TARGET_EVENTS_PER_S,
            note=f"CPU per event: producer {alone.cpu_us:.1f} µs, "
            f"brokers {alone.brokers_us:.1f} µs",
        ),
        Figure(
            part="producer",
            name="events/s simulated + serialised (no Kafka)",
            value=simulated.rate,
            unit="events/s",
            baseline_name="pydantic model + to_json per event",
            baseline_value=modelled.rate,
            target=TARGET_EVENTS_PER_S,
            note=f"{simulated.cpu_us:.2f} µs CPU per event (pydantic path {modelled.cpu_us:.1f})",
        ),
    ]
    if brokers:
        figures.append(
            Figure(
                part="producer",
                name=f"CPU-bound ceiling on {cores} cores: producer + brokers' CPU per event",
                value=cores * 1e6 / (new.cpu_us + new.brokers_us),
                unit="events/s",
                target=TARGET_EVENTS_PER_S,
                note="were the cores free for it; the simulation alone takes "
                f"{simulated.cpu_us:.2f} µs of the producer's main thread per event",
            )
        )
    return figures
