"""The Redis sink against the real cluster: idempotence, redirects, failover, failure.

Rows go through ``write_windows`` as the job writes them (encoded to RESP, sent and
confirmed in groups); ``write`` of :func:`write_commands` (the reference) must leave
the very same state.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest

from airlines.contract.redis_layout import KeyLayout, WindowAggregate, write_commands
from airlines.store.cluster import cluster_health
from airlines.store.connect import RedisAccess, cluster_client, redis_password
from airlines.store.encoding import key_slot
from airlines.store.users import WRITER_USER
from airlines.store.writer import ClusterWriter, RedisWriteError, SinkSettings
from airlines_testkit.stack import FreshConfig, RunningStack

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


def settings(fresh: FreshConfig, **changes: Any) -> SinkSettings:
    """The sink's settings as the job has them: logged in as the writer user."""
    redis = fresh.config_as(WRITER_USER).redis
    base = SinkSettings.from_config(redis, redis_password(redis), retry_seconds=60)
    return SinkSettings(**{**base.__dict__, "top_n": 5, "ttl_seconds": 3600, **changes})


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


def write(writer: ClusterWriter, data: list[WindowAggregate]) -> None:
    """Write rows as the job does (one batch id per call)."""
    batch_ids = {row.batch_id for row in data}
    assert len(batch_ids) == 1
    assert writer.write_windows([row.to_row() for row in data], batch_ids.pop()) == len(data)


def delete_keys(fresh: FreshConfig) -> None:
    client = cluster_client(fresh.config.redis)
    try:
        for key in list(client.scan_iter(match=f"{fresh.config.redis.key_prefix}:*", count=1000)):
            client.delete(key)
    finally:
        client.close()


@pytest.mark.parametrize(
    "groups",
    [{}, {"chunk_rows": 100, "rows_per_confirmation": 350}],
    ids=["one group", "many chunks and groups"],
)
def test_writing_a_batch_twice_leaves_the_same_state(
    stack: RunningStack, fresh_config: FreshConfig, groups: dict[str, int]
) -> None:
    writer = ClusterWriter(settings(fresh_config), **groups)
    try:
        data = rows(1200)
        write(writer, data)
        first = state(fresh_config)
        # Replayed, in another order and split differently (as another partitioning would).
        write(writer, list(reversed(data[600:])))
        write(writer, data[:600])
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


def test_indexes_keep_the_newest_top_n_whatever_the_order(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    layout = KeyLayout(fresh_config.config.redis.key_prefix)
    # One flight, 9 windows, on one route: written newest first, in two groups.
    data = [
        WindowAggregate(
            route="east-coast",
            airline="Delta",
            flight_id="DL7",
            window_start_ms=START + 300_000 * w,
            window_end_ms=START + 300_000 * (w + 1),
            event_count=1,
            total_passengers=100,
            avg_ticket_price=200.0,
            avg_delay_minutes=float(w),
            delayed_count=0,
            delayed_share=0.0,
            updated_at_ms=START,
            batch_id=3,
        )
        for w in (8, 2, 7, 0, 6, 1, 5, 3, 4)
    ]
    writer = ClusterWriter(settings(fresh_config), chunk_rows=2, rows_per_confirmation=4)
    try:
        write(writer, data)
    finally:
        writer.close()
    dump = state(fresh_config)
    newest = [START + 300_000 * w for w in range(4, 9)]
    assert dump[layout.flight_windows("DL7")] == [
        (layout.window("east-coast", "DL7", s), float(s)) for s in newest
    ]
    assert dump[layout.route_windows("east-coast")] == [(str(s), float(s)) for s in newest]
    assert dump[layout.routes()] == ["east-coast"]
    assert len([k for k in dump if ":win:" in k]) == 9


def test_rows_and_the_reference_commands_leave_the_same_state(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    """The encoded rows and write_commands through the generic path: identical Redis."""
    layout = KeyLayout(fresh_config.config.redis.key_prefix)
    data = rows(900)
    writer = ClusterWriter(settings(fresh_config))
    try:
        writer.write(write_commands(data, layout, ttl_seconds=3600, top_n=5))
        by_commands = state(fresh_config)
        delete_keys(fresh_config)
        assert state(fresh_config) == {}
        write(writer, data)
        assert state(fresh_config) == by_commands
    finally:
        writer.close()


def test_stale_slot_map_is_corrected_by_moved_replies(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    writer = ClusterWriter(settings(fresh_config))
    try:
        writer.refresh_slots()
        wrong = writer._slots[0]
        # Pretend every slot lives on one primary: two thirds of the commands get MOVED.
        writer._slots = [wrong] * len(writer._slots)
        write(writer, rows(300))
        assert writer.stats.redirects > 0
    finally:
        writer.close()
    assert len([k for k in state(fresh_config) if ":win:" in k]) == 300


def test_a_slot_being_migrated_is_written_at_its_target_after_ask(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    """ASK: the key is not on the slot's owner (being migrated), so write it at the target."""
    import redis

    layout = KeyLayout(fresh_config.config.redis.key_prefix)
    access = stack.redis_access
    health = cluster_health(fresh_config.config.redis.nodes, access)
    primaries = health.primaries()
    clients = {p.id: redis.Redis(p.ip, p.port, **access.client_options()) for p in primaries}
    data = rows(30)
    # A window key whose slot holds no key yet (so MIGRATING answers ASK for it).
    for row in data:
        key = layout.window(row.route, row.flight_id, row.window_start_ms)
        slot = key_slot(key.encode())
        source = next(p for p in primaries if any(lo <= slot <= hi for lo, hi in p.slots))
        if clients[source.id].execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0:
            break
    else:
        pytest.fail("no empty slot among the rows' keys")
    target = next(p for p in primaries if p.id != source.id)
    writer = ClusterWriter(settings(fresh_config, ack_replicas=1))
    try:
        clients[target.id].execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source.id)
        clients[source.id].execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target.id)
        write(writer, [row])
        assert writer.stats.redirects == 1, writer.stats
        at_target = clients[target.id]
        pipe = at_target.pipeline(transaction=False)
        pipe.execute_command("ASKING")
        pipe.hgetall(key)
        pipe.execute_command("ASKING")
        pipe.ttl(key)
        _, fields, _, ttl = pipe.execute()
        assert WindowAggregate.from_hash(fields) == row
        assert ttl > 0
        assert clients[source.id].execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0
    finally:
        writer.close()
        pipe = clients[target.id].pipeline(transaction=False)
        pipe.execute_command("ASKING")
        pipe.delete(key)
        pipe.execute(raise_on_error=False)
        for client in clients.values():
            client.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")
            client.close()


def test_a_write_that_fails_midway_leaves_the_writer_usable(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    layout = KeyLayout(fresh_config.config.redis.key_prefix)
    writer = ClusterWriter(settings(fresh_config), chunk_rows=10, rows_per_confirmation=40)
    first, second = rows(25), rows(60)[30:]
    try:
        bad = [*[r.to_row() for r in first], ("east-coast", "Delta")]  # a malformed row
        with pytest.raises(ValueError, match="not enough values"):
            writer.write_windows(bad, 1)
        write(writer, second)
    finally:
        writer.close()
    dump = state(fresh_config)
    # The failed call's rows sent before the bad one may be there (Spark replays the
    # batch), but none of their index members was kept for the next write.
    indexed = {m for k, v in dump.items() if ":flight:" in k for m, _ in v}
    assert indexed == {layout.window(r.route, r.flight_id, r.window_start_ms) for r in second}
    for row in second:
        key = layout.window(row.route, row.flight_id, row.window_start_ms)
        assert WindowAggregate.from_hash(dump[key]) == row


def test_without_acks_writes_go_on_through_a_primary_failover(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    # ackReplicas 0: availability first; the promoted replica takes writes at once.
    writer = ClusterWriter(settings(fresh_config, ack_replicas=0))
    victim = None
    try:
        write(writer, rows(300))
        primaries = cluster_health(fresh_config.config.redis.nodes, stack.redis_access).primaries()
        victim = f"redis-{primaries[0].port}"
        stack.kill_service(victim, signal.SIGKILL)
        started = time.monotonic()
        data = rows(900, batch_id=2)
        write(writer, data)  # blocks through the failover, then succeeds
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


def _replica_copies(fresh: FreshConfig, access: RedisAccess, keys: list[str]) -> dict[str, Any]:
    """Each key's hash as the replica of its slot's primary holds it."""
    import redis
    from redis.crc import key_slot

    health = cluster_health(fresh.config.redis.nodes, access)
    copies: dict[str, Any] = {}
    for primary in health.primaries():
        owned = [
            k for k in keys if any(lo <= key_slot(k.encode()) <= hi for lo, hi in primary.slots)
        ]
        (replica,) = health.replicas_of(primary)
        client = redis.Redis(
            replica.ip,
            replica.port,
            **access.client_options(),
            decode_responses=True,
        )
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
    writer = ClusterWriter(settings(fresh_config, ack_replicas=1, retry_seconds=120))
    layout = KeyLayout(fresh_config.config.redis.key_prefix)
    victim = None
    try:
        first = rows(300)
        write(writer, first)  # WAIT 1: every replica has it on return
        keys = [layout.window(r.route, r.flight_id, r.window_start_ms) for r in first]
        copies = _replica_copies(fresh_config, stack.redis_access, keys)
        assert {k: WindowAggregate.from_hash(v) for k, v in copies.items()} == dict(
            zip(keys, first, strict=True)
        )
        primaries = cluster_health(fresh_config.config.redis.nodes, stack.redis_access).primaries()
        victim = f"redis-{primaries[0].port}"
        stack.kill_service(victim, signal.SIGKILL)
        # The promoted replica has no replica of its own: its writes cannot be
        # confirmed, so the write waits ...
        data = rows(900, batch_id=2)
        done = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                write(writer, data)
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
    copies = _replica_copies(fresh_config, stack.redis_access, keys)
    assert {k: WindowAggregate.from_hash(v) for k, v in copies.items()} == dict(
        zip(keys, data, strict=True)
    )


def test_unreachable_cluster_fails_the_write(fresh_config: FreshConfig) -> None:
    writer = ClusterWriter(settings(fresh_config, nodes=("127.0.0.1:1",), retry_seconds=1.0))
    assert writer.write_windows([], 1) == 0  # nothing to write needs no Redis
    with pytest.raises(RedisWriteError, match="still failing"):
        write(writer, rows(3))


def test_a_rejected_command_fails_at_once(stack: RunningStack, fresh_config: FreshConfig) -> None:
    layout = KeyLayout(fresh_config.config.redis.key_prefix)
    client = cluster_client(fresh_config.config.redis)
    try:
        client.set(layout.window("east-coast", "DL0", START), "not a hash")
    finally:
        client.close()
    writer = ClusterWriter(settings(fresh_config))
    try:
        with pytest.raises(RedisWriteError, match="WRONGTYPE"):
            write(writer, rows(3))
        # "At once": no backoff round was spent on a command Redis rejected.
        assert writer.stats.retries == 0
    finally:
        writer.close()
