"""The producer loop: simulate a region's flights and publish them until told to stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from confluent_kafka import KafkaException

from airlines.config import AppConfig
from airlines.contract.event import Region
from airlines.produce.publisher import DeliveryStats, EventPublisher, Throttle
from airlines.produce.simulator import FleetSimulator
from airlines.waiting import poll

if TYPE_CHECKING:
    from airlines.produce.metrics import ProducerMetrics

#: How long a stopping producer waits for outstanding deliveries.
FLUSH_TIMEOUT_S = 30.0
#: Most events made and queued between two checks of the stop signal and the clock
#: (a few milliseconds' worth at full speed).
BURST = 500


class MissingTopicError(RuntimeError):
    """The topic to write to does not exist (topics are created, never auto-created)."""


class ProducingError(RuntimeError):
    """Sending stopped on an error; ``stats`` holds what the brokers acknowledged before
    it (outstanding messages flushed), so the run's summary can still be printed."""

    def __init__(self, cause: Exception, stats: DeliveryStats) -> None:
        super().__init__(str(cause) or type(cause).__name__)
        self.stats = stats


#: Seconds between checks, and between "still waiting" lines, while waiting for a topic.
_TOPIC_POLL_S = 2.0
_TOPIC_REPORT_S = 15.0


def wait_for_topic(
    publisher: EventPublisher,
    topic: str,
    *,
    timeout: float,
    stop: threading.Event,
    heartbeat_file: Path | None,
    describe: str,
    report: Callable[[str], None] | None = None,
) -> None:
    """Return once ``topic`` exists; raise :class:`MissingTopicError` after ``timeout``.

    On Kubernetes the producers start with the brokers, and the topics are created by
    a hook that runs once everything is up: a producer waits for its topic (alive, its
    heartbeat touched) instead of crashing until then.
    """
    last_report = time.monotonic()

    def missing() -> str | None:
        nonlocal last_report
        try:
            if publisher.topic_exists(topic):
                return None
            reason = "does not exist"
        except KafkaException as exc:
            reason = f"cannot be checked ({exc.args[0].str() if exc.args else exc})"
        if stop.is_set():
            raise MissingTopicError(f"{describe} {reason}: create it with 'airlines topics ensure'")
        now = time.monotonic()
        if now - last_report >= _TOPIC_REPORT_S:
            last_report = now
            (report or _say)(f"waiting for {describe}: {reason}")
        if heartbeat_file is not None:
            heartbeat_file.touch()
        return reason

    reason = poll(
        missing,
        deadline=time.monotonic() + timeout,
        interval=_TOPIC_POLL_S,
        sleep=stop.wait,
    )
    if reason is not None:
        waited = f" after waiting {timeout:.0f}s" if timeout > 0 else ""
        raise MissingTopicError(
            f"{describe} {reason}{waited}: create it with 'airlines topics ensure'"
        )


def _say(line: str) -> None:
    print(line, flush=True)


def produce(
    config: AppConfig,
    region: Region,
    *,
    rate: float | None,
    count: int | None,
    seed: int | None,
    stop: threading.Event,
    on_progress: Callable[[DeliveryStats], None] | None = None,
    heartbeat_file: Path | None = None,
    track_offsets: bool = False,
    topic_wait: float = 0.0,
    metrics: ProducerMetrics | None = None,
) -> DeliveryStats:
    """Send ``count`` events (or until ``stop``) at ``rate`` per second; then flush.

    Event times are the wall-clock time each event is made, so the stream is live at any
    rate: a rate far above real time makes each flight observed more often (rate /
    fleet size per second), never a faster clock. The topic must exist; ``topic_wait``
    seconds are given for it to appear (and for the brokers to answer) first.
    ``metrics``, when given, reports the deliveries as they happen.
    """
    topic = config.topic_for_region(region).name
    simulator = FleetSimulator(region, fleet_size=config.producers.fleet_size, seed=seed)
    publisher = EventPublisher(
        config.kafka,
        track_offsets=track_offsets,
        on_latency=metrics.observe_latency if metrics is not None else None,
    )
    if metrics is not None:
        metrics.attach(publisher.stats)
    wait_for_topic(
        publisher,
        topic,
        timeout=topic_wait,
        stop=stop,
        heartbeat_file=heartbeat_file,
        describe=f"topic {topic!r} (region {region.value}) on "
        f"{','.join(config.kafka.bootstrap_servers)}",
    )
    throttle = Throttle(rate)
    record_at, clock = simulator.record_at, time.time_ns
    last_report = time.monotonic()
    sent = 0
    try:
        while not stop.is_set() and (count is None or sent < count):
            burst = throttle.allowance(BURST if count is None else min(BURST, count - sent))
            if not burst:
                throttle.wait(publisher.poll)
                continue
            # Each event's time is the clock when it is made (µs).
            publisher.send_many(topic, [record_at(clock() // 1000) for _ in range(burst)])
            sent += burst
            if time.monotonic() - last_report >= 1.0:
                last_report = time.monotonic()
                if on_progress:
                    on_progress(publisher.stats)
                if heartbeat_file is not None:
                    heartbeat_file.touch()
    except Exception as exc:
        # What was acknowledged before the error still counts: the stats travel with the
        # error, and the flush below completes them before anyone reads them.
        raise ProducingError(exc, publisher.stats) from exc
    finally:
        publisher.flush(FLUSH_TIMEOUT_S)
    if on_progress:
        on_progress(publisher.stats)
    return publisher.stats
