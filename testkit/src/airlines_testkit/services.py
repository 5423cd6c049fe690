"""The real services a test runs against: messages into Kafka, window hashes out of Redis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from confluent_kafka import Producer

from airlines.produce.publisher import producer_settings
from airlines.store.connect import cluster_client


def produce_messages(
    config: Any,
    messages: Sequence[tuple[str, bytes | None, bytes | None]],
    headers: Sequence[tuple[str, bytes]] | None = None,
) -> None:
    """Send (topic, key, value) messages (each with ``headers``) and wait until every one
    is acknowledged."""
    producer = Producer(producer_settings(config.kafka))
    failures: list[str] = []

    def on_delivery(err: Any, msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    for topic, key, value in messages:
        producer.produce(
            topic, value=value, key=key, headers=list(headers or ()), on_delivery=on_delivery
        )
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or failures:
        raise RuntimeError(f"{remaining} messages unacknowledged, failures: {failures[:3]}")


def window_hashes(config: Any) -> dict[str, dict[str, str]]:
    """Every window hash under the config's key prefix (SCAN: fine for a test, not a reader)."""
    client = cluster_client(config.redis)
    try:
        keys = sorted(client.scan_iter(match=f"{config.redis.key_prefix}:win:*", count=1000))
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return {str(k): dict(v) for k, v in zip(keys, pipe.execute(), strict=True)}
    finally:
        client.close()
