"""Sending flight events to Kafka, counting what the brokers acknowledged.

Safety first: idempotence on and ``acks=all`` (librdkafka leaves idempotence off by
default), so a broker failover neither loses nor duplicates acknowledged events.
The message key is the flight id, so one flight's events stay in order on one
partition.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import confluent_kafka
import tenacity
from confluent_kafka import KafkaError, KafkaException

from airlines.config import KafkaConfig
from airlines.contract.event import FlightEvent
from airlines.kafka.settings import librdkafka_settings
from airlines.waiting import poll


def producer_settings(kafka: KafkaConfig) -> dict[str, Any]:
    """librdkafka configuration of every producer this project runs."""
    client = kafka.producer
    return {
        **librdkafka_settings(kafka),
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
class PartitionAcks:
    """The acknowledged messages of one partition: how many, the first and last offset.
    With one producer writing to the partition (and idempotence on), its ``count``
    messages are ``count`` of the log's offsets ``first``..``last``."""

    count: int
    first: int
    last: int

    def __str__(self) -> str:
        return f"{self.first}-{self.last} ({self.count})"


@dataclass
class DeliveryStats:
    """What the brokers said about the messages handed to the producer."""

    queued: int = 0
    delivered: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    #: (topic, partition, offset) of every acknowledged message, when tracking is on.
    acknowledged: list[tuple[str, int, int]] = field(default_factory=list)
    #: Per (topic, partition): what the brokers acknowledged there. Small (one entry per
    #: partition), so always kept: it says where every acknowledged event must be.
    partitions: dict[tuple[str, int], PartitionAcks] = field(default_factory=dict)
    #: Times the client's metadata lost the topic for a while (sending waited it out).
    topic_gaps: int = 0

    def acknowledged_line(self) -> str:
        """``acknowledged offsets: topic/partition first-last (count), ...`` (sorted): the
        producers' last line, which a check of the topics reads back
        (:func:`parse_acknowledged`)."""
        return ACKNOWLEDGED + ", ".join(
            f"{topic}/{partition} {acks}"
            for (topic, partition), acks in sorted(self.partitions.items())
        )

    @property
    def pending(self) -> int:
        return self.queued - self.delivered - self.failed


ACKNOWLEDGED = "acknowledged offsets: "
_ACKNOWLEDGED_LINE = re.compile("^" + ACKNOWLEDGED + r"(.*)$", re.MULTILINE)
_PARTITION_ACKS = re.compile(r"([\w.-]+)/(\d+) (\d+)-(\d+) \((\d+)\)")


def parse_acknowledged(output: str) -> dict[tuple[str, int], PartitionAcks]:
    """The partitions of the last :meth:`DeliveryStats.acknowledged_line` in a
    producer's output (empty when it printed none)."""
    lines = _ACKNOWLEDGED_LINE.findall(output)
    if not lines:
        return {}
    return {
        (topic, int(partition)): PartitionAcks(int(count), int(first), int(last))
        for topic, partition, first, last, count in _PARTITION_ACKS.findall(lines[-1])
    }


#: Messages queued between two services of delivery reports (when nothing else polls).
POLL_EVERY = 1024


class TopicUnavailableError(RuntimeError):
    """The topic stayed missing from the brokers' metadata longer than the delivery timeout."""


def _refusal_of(state: tenacity.RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome else None


def _metadata_gap(exc: BaseException | None) -> bool:
    """Whether produce() refused a message because the client's metadata has no such topic
    or partition right now (as opposed to a bad message or configuration)."""
    error = exc.args[0] if exc is not None and exc.args else None
    return isinstance(error, KafkaError) and error.code() in (
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    )


class EventPublisher:
    """A confluent-kafka producer that counts deliveries from delivery reports.

    Every message gets its delivery report (one callback for the producer, not one per
    message sent): ``stats.delivered`` and ``stats.failed`` count them one by one, so
    ``stats.pending`` is what the brokers have not acknowledged (yet).
    """

    def __init__(
        self,
        kafka: KafkaConfig,
        *,
        track_offsets: bool = False,
        on_latency: Callable[[float], None] | None = None,
    ) -> None:
        self.stats = DeliveryStats()
        self._track = track_offsets
        #: Told each acknowledged message's latency (s, produce() to acknowledgement).
        self._on_latency = on_latency
        # The plain counting callback unless someone wants more of each report.
        each = track_offsets or on_latency is not None
        # Looked up when called (not imported by name): tests stand a refusing one in.
        self._producer = confluent_kafka.Producer(
            {
                **producer_settings(kafka),
                "on_delivery": self._on_each if each else self._on_delivery,
            }
        )
        self._produce = self._producer.produce
        #: What produce() raises when it refuses a message (see :meth:`_retry`).
        self._refusals = (BufferError, KafkaException)
        self._unpolled = 0
        #: How long a topic may be missing from the client's metadata before sending fails.
        self._topic_gap_s = kafka.producer.delivery_timeout_ms / 1000

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is None:
            self.stats.delivered += 1
            where, offset = (msg.topic(), msg.partition()), msg.offset()
            acks = self.stats.partitions.get(where)
            if acks is None:
                self.stats.partitions[where] = PartitionAcks(1, offset, offset)
            else:
                acks.count += 1
                acks.first = min(acks.first, offset)
                acks.last = max(acks.last, offset)
        else:
            self.stats.failed += 1
            self.stats.errors[str(err.str())] += 1

    def _on_each(self, err: Any, msg: Any) -> None:
        self._on_delivery(err, msg)
        if err is not None:
            return
        if self._on_latency is not None:
            latency = msg.latency()
            if latency is not None:
                self._on_latency(float(latency))
        if self._track:
            self.stats.acknowledged.append((msg.topic(), msg.partition(), msg.offset()))

    def send(self, topic: str, event: FlightEvent) -> None:
        self.send_raw(topic, event.flight_id.encode(), event.to_json())

    def send_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Queue one message; waits for room when the local queue is full, and for the
        topic when the client's metadata has lost it for a while (:meth:`_retry`)."""
        try:
            self._produce(topic, value, key)
        except self._refusals as refusal:
            self._retry(topic, key, value, refusal)
        self.stats.queued += 1
        self._unpolled += 1
        if self._unpolled >= POLL_EVERY:
            self.poll(0)

    def send_many(self, topic: str, records: Iterable[tuple[bytes, bytes]]) -> None:
        """Queue (key, value) messages, then serve delivery reports once."""
        produce, refusals = self._produce, self._refusals
        queued = 0
        try:
            for key, value in records:
                try:
                    produce(topic, value, key)
                except refusals as refusal:
                    self._retry(topic, key, value, refusal)
                queued += 1
        finally:
            self.stats.queued += queued
        self.poll(0)

    def _retry(self, topic: str, key: bytes | None, value: bytes, refusal: Exception) -> None:
        """Queue a message that produce() refused (``refusal``), once the reason has passed.

        * The local queue is full (BufferError): serve delivery reports until there is room.
        * The client's metadata has lost the topic (``_UNKNOWN_TOPIC``): a broker that has
          just restarted can answer a metadata request before it knows every topic (seen
          on a real cluster when brokers rolled: "partition count changed from 3 to 0",
          and two producers crashed). Topics are never deleted here, so ask for the
          topic's metadata again until it is back, up to the delivery timeout; then
          :class:`TopicUnavailableError`.

        Any other refusal is raised.
        """
        made = iter((refusal,))  # the attempt send made already
        gap_deadline: float | None = None

        def attempt() -> None:
            earlier = next(made, None)
            if earlier is not None:
                raise earlier
            self._produce(topic, value, key)

        def give_up(state: tenacity.RetryCallState) -> bool:
            nonlocal gap_deadline
            if not _metadata_gap(_refusal_of(state)):
                return False  # a full queue empties: its messages are delivered or expire
            now = time.monotonic()
            if gap_deadline is None:
                gap_deadline = now + self._topic_gap_s
                self.stats.topic_gaps += 1
            return now >= gap_deadline

        def serve_for(state: tenacity.RetryCallState) -> float:
            return 0.2 if _metadata_gap(_refusal_of(state)) else 0.05

        def before_serving(state: tenacity.RetryCallState) -> None:
            if _metadata_gap(_refusal_of(state)):
                self._refresh_metadata(topic)

        waiting: tenacity.Retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(
                lambda exc: isinstance(exc, BufferError) or _metadata_gap(exc)
            ),
            stop=give_up,
            wait=serve_for,
            before_sleep=before_serving,
            sleep=self.poll,  # serving delivery reports is what makes room
            reraise=True,
        )
        try:
            waiting(attempt)
        except KafkaException as exc:
            if not _metadata_gap(exc):
                raise
            raise TopicUnavailableError(
                f"topic {topic!r} missing from the brokers' metadata for "
                f"{self._topic_gap_s:.0f}s (delivery timeout): {exc.args[0].str()}"
            ) from exc

    def _refresh_metadata(self, topic: str) -> None:
        """Ask the brokers for ``topic``'s metadata (which updates the client's)."""
        # No broker answered: the next attempt asks again.
        with contextlib.suppress(KafkaException):
            self._producer.list_topics(topic, timeout=5.0)

    def poll(self, timeout: float = 0) -> None:
        self._unpolled = 0
        self._producer.poll(timeout)

    def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for outstanding deliveries; returns how many remain."""
        deadline = time.monotonic() + timeout

        def outstanding() -> int | None:
            left = int(self._producer.flush(max(0.0, deadline - time.monotonic())))
            return left or None

        return poll(outstanding, deadline=deadline, interval=0) or 0

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


class Throttle:
    """Lets through ``rate`` events per second on a fixed schedule, as many at once as are
    due (so a rate far above what one sleep can space out still holds on average).

    Events go out at most every ``tick`` seconds, in a burst of what is due, unless a
    tick's worth is due sooner: a producer wakes up a hundred times a second, not once
    per event (at 1,700 events/s, one wake-up per event cost a third of a core). A rate
    below one event per tick sends each event on its own schedule.

    Behind by more than a second (e.g. after a broker outage), it does not burst to catch
    up: the schedule starts again from now.
    """

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        tick: float = 0.01,
    ) -> None:
        self.rate = rate
        self.tick = tick
        self._clock = clock
        self._start = clock()
        self._allowed = 0
        self._last = -math.inf
        self._per_tick = max(1, int((rate or 0) * tick))

    def allowance(self, most: int) -> int:
        """How many events may go now (at most ``most``; 0: wait first)."""
        if not self.rate:
            return most
        now = self._clock()
        # The first event goes at once, the next ones every 1/rate seconds.
        due = int((now - self._start) * self.rate) + 1 - self._allowed
        if due > self.rate + 1:  # more than a second behind
            self._start, self._allowed, due = now, 0, 1
        if due <= 0 or (due < self._per_tick and now < self._last + self.tick):
            return 0
        granted = min(due, most)
        self._allowed += granted
        self._last = now
        return granted

    def wait(self, serve: Any = None) -> None:
        """Until the next events may go, calling ``serve(seconds)`` to wait usefully."""
        if not self.rate:
            return
        next_due = self._start + self._allowed / self.rate
        tick_worth = self._start + (self._allowed + self._per_tick - 1) / self.rate
        delay = max(next_due, min(self._last + self.tick, tick_worth)) - self._clock()
        if delay > 0:
            if serve is not None:
                serve(delay)  # may return early, e.g. when a delivery report arrives
            else:
                time.sleep(delay)
