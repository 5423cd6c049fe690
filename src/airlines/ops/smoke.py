"""``airlines smoke``: is a deployment working end to end? (what ``helm test`` runs)

Three groups of checks, each a list of :class:`CheckResult`:

* ``kafka``: a marker message is produced (acks=all, idempotent) to every input topic
  and the dead-letter topic, and read back from the partition and offset it was
  written to, by a consumer with a unique group id that commits nothing. Markers
  carry the key :data:`SMOKE_KEY` and the header :data:`SMOKE_HEADER`, so consumers
  (the streaming job) can recognise and skip them.
* ``redis``: every node reports ``cluster_state:ok``, all 16384 slots are served,
  every primary has a replica with a live link, and a SET/GET/DEL round trip works.
* ``analytics``: the streaming job's sink writes a hash at :func:`heartbeat_key`
  after every batch, with fields ``batch_id``, ``updated_at_ms`` (epoch ms) and
  ``rows``; the check passes when ``updated_at_ms`` is recent enough.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import orjson
import redis
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from redis.exceptions import RedisClusterException

from airlines.config import AppConfig
from airlines.config.types import format_duration
from airlines.contract.smoke import SMOKE_HEADER, SMOKE_KEY, heartbeat_key
from airlines.kafka import admin as kafka_admin
from airlines.kafka.admin import client_config, min_insync_replicas
from airlines.produce.publisher import producer_settings
from airlines.store.cluster import ClusterHealth, cluster_health, redis_error
from airlines.store.connect import RedisAccess, RedisPasswordError, cluster_client
from airlines.waiting import poll

if TYPE_CHECKING:
    from confluent_kafka.admin._metadata import ClusterMetadata, TopicMetadata

CHECKS = ("kafka", "redis", "analytics")
#: How often a refused Redis connection is tried again within a check's timeout: a new
#: pod's first connections may be refused until the cluster's NetworkPolicy controller has
#: admitted its address (``helm test`` pods are new pods).
RECONNECT_INTERVAL = 1.0


@dataclass
class CheckResult:
    group: str
    name: str
    ok: bool
    detail: str
    seconds: float = 0.0


def _timed(group: str, name: str, run: Callable[[], tuple[bool, str]]) -> CheckResult:
    started = time.monotonic()
    try:
        ok, detail = run()
    except Exception as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return CheckResult(group, name, ok, detail, time.monotonic() - started)


# ---- kafka ---------------------------------------------------------------------------


def kafka_checks(config: AppConfig, timeout: float = 30) -> list[CheckResult]:
    """Produce a marker to each input topic and consume it back (all topics at once); the
    dead-letter topic, which only the streaming job may write, is checked in the metadata."""
    topics = config.topic_names
    started = time.monotonic()
    try:
        metadata = kafka_admin.cluster_metadata(config.kafka, timeout=min(timeout, 15))
    except kafka_admin.KafkaAdminError as exc:
        spent = time.monotonic() - started
        return [CheckResult("kafka", f"topic {name}", False, str(exc), spent) for name in topics]
    outcome: dict[str, tuple[bool, str]] = {}
    present = []
    for name in topics:
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None:
            why = "does not exist" if topic is None else str(topic.error)
            outcome[name] = (False, f"topic {name} {why} (run 'airlines topics ensure')")
        else:
            present.append(name)
    dead_letter = config.dead_letter.topic
    if dead_letter in present:
        present.remove(dead_letter)
        outcome[dead_letter] = _described(dead_letter, metadata)
    if present:
        try:
            outcome.update(_round_trips(config, present, timeout))
        except Exception as exc:
            for name in present:
                outcome[name] = (False, f"{type(exc).__name__}: {exc}")
        failed = [name for name in present if not outcome[name][0]]
        if failed:
            hints = _diagnose(config, failed)
            for name in failed:
                ok, detail = outcome[name]
                outcome[name] = (ok, f"{detail}{hints.get(name, '')}")
    spent = time.monotonic() - started
    return [CheckResult("kafka", f"topic {n}", *outcome[n], spent) for n in topics]


def _diagnose(config: AppConfig, topics: list[str]) -> dict[str, str]:
    """Why writes may fail: brokers down, partitions without leader or enough replicas."""
    try:
        metadata = kafka_admin.cluster_metadata(config.kafka, timeout=5)
    except kafka_admin.KafkaAdminError as exc:
        return dict.fromkeys(topics, f"; {exc}")
    hints = {}
    brokers = sorted(metadata.brokers)
    unreachable = [
        f"{b.id} ({b.host}:{b.port})"
        for b in (metadata.brokers[i] for i in brokers)
        if not _connectable(str(b.host), int(b.port))
    ]
    for name in topics:
        topic = metadata.topics.get(name)
        if topic is None:
            continue
        leaderless, short, needed = _unwritable(topic)
        notes = [f"brokers registered: {len(brokers)} {brokers}"]
        if unreachable:
            notes.append(f"registered but not reachable: {', '.join(unreachable)}")
        if leaderless:
            notes.append(f"partitions without leader: {leaderless}")
        if short:
            notes.append(
                f"partitions {short} have fewer in-sync replicas than "
                f"min.insync.replicas {needed}, so acks=all writes are refused"
            )
        hints[name] = f" ({'; '.join(notes)})"
    return hints


def _unwritable(topic: TopicMetadata) -> tuple[list[int], list[int], int]:
    """The partitions without a leader, those with fewer in-sync replicas than
    ``min.insync.replicas`` (acks=all writes are refused there), and that minimum."""
    partitions = topic.partitions
    needed = min_insync_replicas(max(len(p.replicas) for p in partitions.values()))
    leaderless = sorted(pid for pid, p in partitions.items() if p.leader < 0)
    short = sorted(pid for pid, p in partitions.items() if len(p.isrs) < needed)
    return leaderless, short, needed


def _connectable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _described(topic: str, metadata: ClusterMetadata) -> tuple[bool, str]:
    """Every partition of the topic has a leader and enough in-sync replicas (as the
    metadata says)."""
    partitions = metadata.topics[topic].partitions
    leaderless, short, needed = _unwritable(metadata.topics[topic])
    if leaderless:
        return False, f"partitions without leader: {leaderless}"
    if short:
        return False, (
            f"partitions {short} have fewer in-sync replicas than min.insync.replicas "
            f"{needed}, so the job's dead letters would be refused"
        )
    return True, (
        f"{len(partitions)} partitions, each with a leader "
        "(not written: only the streaming job writes dead letters)"
    )


def _round_trips(
    config: AppConfig, topics: list[str], timeout: float
) -> dict[str, tuple[bool, str]]:
    run = uuid.uuid4().hex
    values = {
        topic: orjson.dumps({"smoke": run, "topic": topic, "at": datetime.now(UTC).isoformat()})
        for topic in topics
    }
    delivered: dict[str, tuple[KafkaError | None, int, int]] = {}

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        delivered[str(msg.topic())] = (err, msg.partition() or 0, msg.offset() or 0)

    producer = Producer(
        client_config(
            config.kafka,
            **{
                **producer_settings(config.kafka),  # acks=all, idempotence: as producers
                "client.id": f"{config.kafka.client_id}-smoke",
                "delivery.timeout.ms": int(timeout * 1000),
            },
        )
    )
    for topic, value in values.items():
        producer.produce(
            topic,
            key=SMOKE_KEY,
            value=value,
            headers=[(SMOKE_HEADER, b"1")],
            on_delivery=on_delivery,
        )
    producer.flush(timeout + 5)
    results: dict[str, tuple[bool, str]] = {}
    assignments = []
    for topic in topics:
        if topic not in delivered:
            results[topic] = (False, f"produce: no delivery report within {timeout:g}s")
            continue
        err, partition, offset = delivered[topic]
        if err is not None:
            results[topic] = (False, f"produce failed: {err.str()}")
        else:
            assignments.append(TopicPartition(topic, partition, offset))
    if not assignments:
        return results
    consumer = Consumer(
        client_config(
            config.kafka,
            **{
                "client.id": f"{config.kafka.client_id}-smoke",
                "group.id": f"airlines-smoke-{run}",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
            },
        )
    )
    try:
        consumer.assign(assignments)
        waiting = {tp.topic: tp for tp in assignments}
        last_error = ""

        def unread() -> dict[str, TopicPartition] | None:
            nonlocal last_error
            msg = consumer.poll(0.5)  # the wait between looks
            if msg is None:
                return waiting
            if msg.error() is not None:
                last_error = str(msg.error())
                return waiting
            topic = str(msg.topic())
            if topic in waiting and msg.value() == values[topic]:
                tp = waiting.pop(topic)
                results[topic] = (
                    True,
                    f"produced and read back at partition {tp.partition} offset {tp.offset}",
                )
            return waiting or None

        poll(unread, deadline=time.monotonic() + timeout, interval=0)
        more = f" (last error: {last_error})" if last_error else ""
        for topic, tp in waiting.items():
            results[topic] = (
                False,
                f"produced to partition {tp.partition} offset {tp.offset} but not read back "
                f"within {timeout:g}s{more}",
            )
    finally:
        consumer.close()
    return results


# ---- redis ---------------------------------------------------------------------------


def redis_checks(config: AppConfig, timeout: float = 30) -> list[CheckResult]:
    """Cluster state, slot coverage, replicas, and a write/read round trip; a cluster
    that cannot be reached at all is tried again until ``timeout``."""
    started = time.monotonic()
    try:
        access = RedisAccess.of(config.redis)
    except RedisPasswordError as exc:
        return [CheckResult("redis", "connect", False, str(exc))]

    checked: list[ClusterHealth] = []

    def unreachable() -> str | None:
        checked[:] = [cluster_health(config.redis.nodes, access)]
        return checked[0].error

    poll(unreachable, deadline=started + timeout, interval=RECONNECT_INTERVAL)
    health = checked[0]
    spent = time.monotonic() - started
    nodes = len(health.nodes)
    primaries = len(health.primaries())

    def result(name: str, problems: list[str], good: str) -> CheckResult:
        ok = not problems
        return CheckResult("redis", name, ok, good if ok else "; ".join(problems), spent)

    if health.error:
        return [CheckResult("redis", "connect", False, health.error, spent)]
    return [
        result("cluster state", health.state_problems(), f"{nodes} nodes, cluster_state ok"),
        result("slots", health.slot_problems(), "all 16384 slots served"),
        result(
            "replicas",
            health.replica_problems(1),
            f"{primaries} primaries, each with a replica in sync",
        ),
        _timed("redis", "round trip", lambda: _redis_round_trip(config)),
    ]


def _redis_round_trip(config: AppConfig) -> tuple[bool, str]:
    key = f"{config.redis.key_prefix}:smoke:{uuid.uuid4().hex}"
    value = uuid.uuid4().hex
    try:
        client = cluster_client(config.redis)
        try:
            client.set(key, value, ex=60)
            read = client.get(key)
            client.delete(key)
            node = client.get_node_from_key(key)
        finally:
            client.close()
    except (redis.RedisError, RedisClusterException) as exc:
        return False, f"round trip failed: {redis_error(exc)}"
    if read != value:
        return False, f"wrote {key} but read back {read!r}"
    return True, f"SET/GET/DEL {key} on {node.name if node else 'cluster'}"


# ---- analytics -----------------------------------------------------------------------


def analytics_check(
    config: AppConfig, within: timedelta, now_ms: int | None = None, timeout: float = 30
) -> list[CheckResult]:
    """The streaming job's heartbeat is younger than ``within``."""
    return [
        _timed("analytics", "job heartbeat", lambda: _heartbeat(config, within, now_ms, timeout))
    ]


def _read_hash(config: AppConfig, key: str, timeout: float) -> dict[bytes | str, bytes | str]:
    """HGETALL ``key``; a cluster that refuses to connect is tried again until ``timeout``."""
    raw: dict[bytes | str, bytes | str] = {}

    def refused() -> Exception | None:
        try:
            client = cluster_client(config.redis)
            try:
                raw.update(client.hgetall(key))
            finally:
                client.close()
        except (redis.ConnectionError, RedisClusterException) as exc:
            return exc
        return None

    problem = poll(refused, deadline=time.monotonic() + timeout, interval=RECONNECT_INTERVAL)
    if problem is not None:
        raise problem
    return raw


def _heartbeat(
    config: AppConfig, within: timedelta, now_ms: int | None, timeout: float
) -> tuple[bool, str]:
    key = heartbeat_key(config.redis.key_prefix)
    try:
        raw = _read_hash(config, key, timeout)
    except (redis.RedisError, RedisClusterException) as exc:
        return False, f"cannot read {key}: {redis_error(exc)}"
    beat = {_text(k): _text(v) for k, v in raw.items()}
    if not beat:
        return False, (
            f"no heartbeat at {key}: the streaming job has not finished a batch (is it running?)"
        )
    try:
        updated = int(beat["updated_at_ms"])
    except (KeyError, ValueError):
        return False, f"{key} has no valid updated_at_ms (got {beat.get('updated_at_ms')!r})"
    now = int(time.time() * 1000) if now_ms is None else now_ms
    age = timedelta(milliseconds=now - updated)
    when = datetime.fromtimestamp(updated / 1000, UTC).isoformat(timespec="seconds")
    batch = beat.get("batch_id", "?")
    rows = beat.get("rows", "?")
    if age > within:
        return False, (
            f"last batch {batch} finished {age.total_seconds():.0f}s ago (at {when}), "
            f"longer ago than {format_duration(within)}: the streaming job is stalled or down"
        )
    return True, f"batch {batch} ({rows} rows) finished {max(age.total_seconds(), 0):.1f}s ago"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# ---- all -----------------------------------------------------------------------------


def parse_checks(text: str) -> list[str]:
    """``"kafka,redis"`` -> ``["kafka", "redis"]``; ValueError naming an unknown check."""
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [c for c in chosen if c not in CHECKS]
    if unknown or not chosen:
        raise ValueError(
            f"unknown check {', '.join(map(repr, unknown)) or '(none given)'}: "
            f"choose from {', '.join(CHECKS)}"
        )
    return list(dict.fromkeys(chosen))


def run_smoke(
    config: AppConfig,
    checks: Sequence[str] = CHECKS,
    analytics_within: timedelta = timedelta(seconds=90),
    timeout: float = 30,
) -> list[CheckResult]:
    results: list[CheckResult] = []
    if "kafka" in checks:
        results += kafka_checks(config, timeout)
    if "redis" in checks:
        results += redis_checks(config, timeout)
    if "analytics" in checks:
        results += analytics_check(config, analytics_within, timeout=timeout)
    return results
