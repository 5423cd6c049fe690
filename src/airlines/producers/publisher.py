"""Sending flight events to Kafka, counting what the brokers acknowledged.

Safety first: idempotence on and ``acks=all`` (librdkafka leaves idempotence off by
default), so a broker failover neither loses nor duplicates acknowledged events.
The message key is the flight id, so one flight's events stay in order on one
partition.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airlines.config import KafkaConfig
from airlines.contract import FlightEvent


def producer_settings(kafka: KafkaConfig) -> dict[str, Any]:
    """librdkafka configuration of every producer this project runs."""
    client = kafka.producer
    return {
        "bootstrap.servers": ",".join(kafka.bootstrap_servers),
        "client.id": kafka.client_id,
        "enable.idempotence": True,
        "acks": "all",
        "max.in.flight.requests.per.connection": 5,
        "linger.ms": client.linger_ms,
        "batch.size": client.batch_size,
        "compression.type": client.compression,
        "delivery.timeout.ms": client.delivery_timeout_ms,
    }


@dataclass
class DeliveryStats:
    """What the brokers said about the messages handed to the producer."""

    queued: int = 0
    delivered: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    #: (topic, partition, offset) of every acknowledged message, when tracking is on.
    acknowledged: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def pending(self) -> int:
        return self.queued - self.delivered - self.failed


class EventPublisher:
    """A confluent-kafka producer that counts deliveries from delivery reports."""

    def __init__(
        self,
        kafka: KafkaConfig,
        *,
        track_offsets: bool = False,
        on_latency: Callable[[float], None] | None = None,
    ) -> None:
        from confluent_kafka import Producer

        self.stats = DeliveryStats()
        self._track = track_offsets
        #: Told each acknowledged message's latency (s, produce() to acknowledgement).
        self._on_latency = on_latency
        self._producer = Producer(producer_settings(kafka))

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.stats.failed += 1
            self.stats.errors[str(err.str())] += 1
        else:
            self.stats.delivered += 1
            if self._on_latency is not None:
                latency = msg.latency()
                if latency is not None:
                    self._on_latency(float(latency))
            if self._track:
                self.stats.acknowledged.append((msg.topic(), msg.partition(), msg.offset()))

    def send(self, topic: str, event: FlightEvent) -> None:
        self.send_raw(topic, event.flight_id.encode(), event.to_json())

    def send_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Queue one message; waits for room when the local queue is full."""
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=self._on_delivery)
                break
            except BufferError:
                # Local queue full: serve delivery reports until there is room.
                self._producer.poll(0.05)
        self.stats.queued += 1
        self._producer.poll(0)

    def poll(self, timeout: float = 0) -> None:
        self._producer.poll(timeout)

    def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for outstanding deliveries; returns how many remain."""
        deadline = time.monotonic() + timeout
        remaining = self._producer.flush(timeout)
        while remaining and time.monotonic() < deadline:
            remaining = self._producer.flush(max(0.0, deadline - time.monotonic()))
        return int(remaining)

    def topic_exists(self, topic: str, timeout: float = 10.0) -> bool:
        metadata = self._producer.list_topics(timeout=timeout)
        found = metadata.topics.get(topic)
        return found is not None and found.error is None


class Pacer:
    """Spaces calls to ``rate`` per second on a fixed schedule (no drift when a call is slow)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = time.monotonic()

    def wait(self, serve: Any = None) -> None:
        """Sleep until the next slot, calling ``serve(seconds)`` to do useful waiting."""
        if not self.interval:
            return
        self._next += self.interval
        now = time.monotonic()
        if self._next - now < -1.0:
            # Far behind (e.g. after a broker outage): don't burst to catch up.
            self._next = now
        while (delay := self._next - time.monotonic()) > 0:
            if serve is not None:
                serve(delay)  # may return early, e.g. when a delivery report arrives
            else:
                time.sleep(delay)
