"""The producer loop: simulate a region's flights and publish them until told to stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from airlines.config import AppConfig
from airlines.contract import Region
from airlines.producers.publisher import DeliveryStats, EventPublisher, Pacer
from airlines.producers.simulator import FleetSimulator

#: How long a stopping producer waits for outstanding deliveries.
FLUSH_TIMEOUT_S = 30.0


class MissingTopicError(RuntimeError):
    """The topic to write to does not exist (topics are created, never auto-created)."""


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
) -> DeliveryStats:
    """Send ``count`` events (or until ``stop``) at ``rate`` per second; then flush.

    Event times are the wall-clock time of sending, so the stream is live.
    """
    topic = config.topic_for_region(region).name
    simulator = FleetSimulator(region, fleet_size=config.producers.fleet_size, seed=seed)
    publisher = EventPublisher(config.kafka, track_offsets=track_offsets)
    if not publisher.topic_exists(topic):
        raise MissingTopicError(
            f"topic {topic!r} (region {region.value}) does not exist on "
            f"{','.join(config.kafka.bootstrap_servers)}: create it with 'airlines topics ensure'"
        )
    pacer = Pacer(rate)
    last_report = time.monotonic()
    sent = 0
    while not stop.is_set() and (count is None or sent < count):
        publisher.send(topic, simulator.event_at(datetime.now(UTC)))
        sent += 1
        pacer.wait(publisher.poll)
        if time.monotonic() - last_report >= 1.0:
            last_report = time.monotonic()
            if on_progress:
                on_progress(publisher.stats)
            if heartbeat_file is not None:
                heartbeat_file.touch()
    publisher.flush(FLUSH_TIMEOUT_S)
    if on_progress:
        on_progress(publisher.stats)
    return publisher.stats
