"""The Redis sink against the real cluster: idempotence, redirects, failover, failure."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest

from airlines.jobs.layout import KeyLayout, WindowAggregate, write_commands
from airlines.jobs.redis_sink import ClusterWriter, RedisWriteError, SinkSettings
from airlines.redis_bootstrap import cluster_health
from airlines.redis_conn import cluster_client
from airlines.stack.testing import FreshConfig, RunningStack

pytestmark = pytest.mark.integration

START = 1_714_564_800_000


def rows(count: int, batch_id: int = 1) -> list[WindowAggregate]:
    return [
        WindowAggregate(
            route=("east-coast", "west-coast", "cross-country")[i % 3],
            airline="Delta",
            flight_id=f"DL{i % 400}",
            window_start_ms=START + 300_000 * (i // 400),
            window_end_ms=START + 300_000 * (i // 400 + 1),
            event_count=i % 7 + 1,
            total_passengers=100 + i,
            avg_ticket_price=100.0 + i / 3,
            avg_delay_minutes=(i * 7) % 45 / 1.5,
            delayed_count=i % 2,
            delayed_share=(i % 2) / (i % 7 + 1),
            updated_at_ms=START + 1000,
            batch_id=batch_id,
        )
        for i in range(count)
    ]


def settings(fresh: FreshConfig, password: str, **changes: Any) -> SinkSettings:
    base = SinkSettings.from_config(fresh.config.redis, password, retry_seconds=60)
    return SinkSettings(**{**base.__dict__, **changes})


def state(fresh: FreshConfig) -> dict[str, Any]:
    """Every key under the test's prefix with its type-specific content (not TTLs)."""
    client = cluster_client(fresh.config.redis)
    try:
        dump: dict[str, Any] = {}
        for key in client.scan_iter(match=f"{fresh.config.redis.key_prefix}:*", count=1000):
            kind = client.type(key)
            if kind == "hash":
                dump[key] = client.hgetall(key)
            elif kind == "zset":
                dump[key] = client.zrange(key, 0, -1, withscores=True)
            elif kind == "set":
                dump[key] = sorted(client.smembers(key))
            else:
                dump[key] = kind
            assert client.ttl(key) > 0, f"{key} has no TTL"
        return dump
    finally:
        client.close()


def write(writer: ClusterWriter, fresh: FreshConfig, data: list[WindowAggregate]) -> None:
    layout = KeyLayout(fresh.config.redis.key_prefix)
    writer.write(write_commands(data, layout, ttl_seconds=3600, top_n=5))


def test_writing_a_batch_twice_leaves_the_same_state(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    writer = ClusterWriter(settings(fresh_config, stack.redis_password))
    try:
        data = rows(1200)
        write(writer, fresh_config, data)
        first = state(fresh_config)
        # Replayed, in another order and split differently (as another partitioning would).
        write(writer, fresh_config, list(reversed(data[600:])))
        write(writer, fresh_config, data[:600])
        assert state(fresh_config) == first
    finally:
        writer.close()
    windows = [k for k in first if ":win:" in k]
    assert len(windows) == 1200
    sample = WindowAggregate.from_hash(
        first[KeyLayout(fresh_config.config.redis.key_prefix).window("east-coast", "DL0", START)]
    )
    assert sample == data[0]
    # The flight index keeps only the newest top_n (5) windows.
    assert all(len(v) <= 5 for k, v in first.items() if ":flight:" in k)


def test_stale_slot_map_is_corrected_by_moved_replies(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    writer = ClusterWriter(settings(fresh_config, stack.redis_password))
    try:
        writer.refresh_slots()
        wrong = writer._slots[0]
        # Pretend every slot lives on one primary: two thirds of the commands get MOVED.
        writer._slots = [wrong] * len(writer._slots)
        write(writer, fresh_config, rows(300))
        assert writer.stats.redirects > 0
    finally:
        writer.close()
    assert len([k for k in state(fresh_config) if ":win:" in k]) == 300


def test_without_acks_writes_go_on_through_a_primary_failover(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    # ackReplicas 0: availability first; the promoted replica takes writes at once.
    writer = ClusterWriter(settings(fresh_config, stack.redis_password, ack_replicas=0))
    victim = None
    try:
        write(writer, fresh_config, rows(300))
        primaries = cluster_health(
            fresh_config.config.redis.nodes, stack.redis_password
        ).primaries()
        victim = f"redis-{primaries[0].port}"
        stack.kill_service(victim, signal.SIGKILL)
        started = time.monotonic()
        data = rows(900, batch_id=2)
        write(writer, fresh_config, data)  # blocks through the failover, then succeeds
        assert writer.stats.retries > 0
        assert time.monotonic() - started < 60
    finally:
        writer.close()
        if victim is not None:
            stack.ensure_healthy()
    dump = state(fresh_config)
    layout = KeyLayout(fresh_config.config.redis.key_prefix)
    for row in data:
        key = layout.window(row.route, row.flight_id, row.window_start_ms)
        assert WindowAggregate.from_hash(dump[key]) == row


def _replica_copies(fresh: FreshConfig, password: str, keys: list[str]) -> dict[str, Any]:
    """Each key's hash as the replica of its slot's primary holds it."""
    import redis
    from redis.crc import key_slot

    health = cluster_health(fresh.config.redis.nodes, password)
    copies: dict[str, Any] = {}
    for primary in health.primaries():
        owned = [
            k for k in keys if any(lo <= key_slot(k.encode()) <= hi for lo, hi in primary.slots)
        ]
        (replica,) = health.replicas_of(primary)
        client = redis.Redis(replica.ip, replica.port, password=password, decode_responses=True)
        try:
            client.execute_command("READONLY")
            for key in owned:
                copies[key] = client.hgetall(key)
        finally:
            client.close()
    return copies


def test_acknowledged_writes_are_on_a_replica_and_wait_for_one_after_a_failover(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    writer = ClusterWriter(
        settings(fresh_config, stack.redis_password, ack_replicas=1, retry_seconds=120)
    )
    layout = KeyLayout(fresh_config.config.redis.key_prefix)
    victim = None
    try:
        first = rows(300)
        write(writer, fresh_config, first)  # WAIT 1: every replica has it on return
        keys = [layout.window(r.route, r.flight_id, r.window_start_ms) for r in first]
        copies = _replica_copies(fresh_config, stack.redis_password, keys)
        assert {k: WindowAggregate.from_hash(v) for k, v in copies.items()} == dict(
            zip(keys, first, strict=True)
        )
        primaries = cluster_health(
            fresh_config.config.redis.nodes, stack.redis_password
        ).primaries()
        victim = f"redis-{primaries[0].port}"
        stack.kill_service(victim, signal.SIGKILL)
        # The promoted replica has no replica of its own: its writes cannot be
        # confirmed, so the write waits ...
        data = rows(900, batch_id=2)
        done = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                write(writer, fresh_config, data)
            except BaseException as exc:  # reported by the test thread
                failure.append(exc)
            finally:
                done.set()

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 60
        while writer.stats.unconfirmed == 0:
            assert not done.is_set(), failure or "write returned without a confirmed copy"
            assert time.monotonic() < deadline, writer.stats.errors[-3:]
            time.sleep(0.2)
        assert not done.is_set()
        # ... until a supervisor brings the lost node back as the new primary's replica.
        stack.start_service(victim)
        thread.join(150)
        assert done.is_set(), writer.stats.errors[-3:]
        assert not failure, failure
    finally:
        writer.close()
        if victim is not None:
            stack.ensure_healthy()
    keys = [layout.window(r.route, r.flight_id, r.window_start_ms) for r in data]
    copies = _replica_copies(fresh_config, stack.redis_password, keys)
    assert {k: WindowAggregate.from_hash(v) for k, v in copies.items()} == dict(
        zip(keys, data, strict=True)
    )


def test_unreachable_cluster_fails_the_write(fresh_config: FreshConfig) -> None:
    writer = ClusterWriter(settings(fresh_config, "x", nodes=("127.0.0.1:1",), retry_seconds=1.0))
    with pytest.raises(RedisWriteError, match="still failing"):
        write(writer, fresh_config, rows(3))


def test_a_rejected_command_fails_at_once(stack: RunningStack, fresh_config: FreshConfig) -> None:
    layout = KeyLayout(fresh_config.config.redis.key_prefix)
    client = cluster_client(fresh_config.config.redis)
    try:
        client.set(layout.window("east-coast", "DL0", START), "not a hash")
    finally:
        client.close()
    writer = ClusterWriter(settings(fresh_config, stack.redis_password))
    started = time.monotonic()
    try:
        with pytest.raises(RedisWriteError, match="WRONGTYPE"):
            write(writer, fresh_config, rows(3))
    finally:
        writer.close()
    assert time.monotonic() - started < 10
