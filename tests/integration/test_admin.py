"""``airlines topics ensure`` and ``airlines redis bootstrap`` against real services."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from confluent_kafka import KafkaError
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.admin._resource import ResourceType

from airlines.config import AppConfig, KafkaConfig, dump_config
from airlines.kafka.admin import (
    TIMESTAMP_AFTER_MAX,
    admin_client,
    cluster_metadata,
    delete_topics,
    topic_config,
    topic_specs,
)
from airlines.kafka.settings import librdkafka_settings
from airlines.stack import procs, render
from airlines.stack.ports import find_free_plan
from airlines.stack.prereqs import find_redis_server
from airlines.store.cluster import cluster_health, parse_cluster_nodes
from airlines.store.connect import RedisAccess, tls_options
from airlines.store.users import ADMIN_USER, REPLICATION_USER, USER_NAMES, render_acl
from airlines_testkit.stack import FreshConfig, RunningStack, run_cli

pytestmark = pytest.mark.integration


def test_topics_are_replicated_three_times_with_min_isr_two(stack: RunningStack) -> None:
    metadata = cluster_metadata(stack.config.kafka)
    assert sorted(metadata.brokers) == [0, 1, 2]
    for spec in topic_specs(stack.config):
        topic = metadata.topics[spec.name]
        assert len(topic.partitions) == 3
        for partition in topic.partitions.values():
            assert len(partition.replicas) == 3
            assert sorted(partition.isrs) == [0, 1, 2]
        assert topic_config(stack.config.kafka, spec.name)["min.insync.replicas"] == "2"
    # auto-creation is off: every broker says so, and asking for an unknown topic
    # answers "unknown" instead of creating it
    for broker in metadata.brokers.values():
        assert broker_config(stack.config.kafka, broker.id)["auto.create.topics.enable"] == "false"
    unknown = f"no-such-topic-{uuid.uuid4().hex[:6]}"
    asked = admin_client(stack.config.kafka).list_topics(topic=unknown, timeout=10)
    error = asked.topics[unknown].error
    assert error is not None
    assert error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def broker_config(kafka: KafkaConfig, broker_id: int) -> dict[str, str]:
    resource = ConfigResource(ResourceType.BROKER, str(broker_id))
    admin = admin_client(kafka)  # kept alive until the future resolves
    entries = admin.describe_configs([resource])[resource].result(timeout=10)
    return {name: entry.value for name, entry in entries.items()}


def test_topics_describe_reports_the_shape_as_json(stack: RunningStack) -> None:
    import orjson

    run = run_cli("topics", "describe", "--json", "--config", str(stack.config_path), env=stack.env)
    assert run.returncode == 0, run.stderr
    rows = {row["name"]: row for row in orjson.loads(run.stdout)}
    assert set(rows) == {spec.name for spec in topic_specs(stack.config)}
    for row in rows.values():
        assert row["missing"] is False
        assert row["partitions"] == 3
        assert row["replicationFactor"] == 3
        assert row["minInsyncReplicas"] == 2
        assert row["underReplicatedPartitions"] == 0


def _config_with_topics(stack: RunningStack, suffix: str, partitions: int, rf: int) -> AppConfig:
    data = stack.config.model_dump(by_alias=True)
    for topic in data["topics"]:
        topic["name"] = f"{topic['name']}-{suffix}"
        topic["partitions"] = partitions
        topic["replicationFactor"] = rf
    data["deadLetter"]["topic"] = f"{data['deadLetter']['topic']}-{suffix}"
    data["deadLetter"]["partitions"] = partitions
    data["deadLetter"]["replicationFactor"] = rf
    return AppConfig.model_validate(data)


def test_topics_ensure_is_idempotent_and_grows_partitions(
    stack: RunningStack, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    path = tmp_path / "airlines.yaml"
    config = _config_with_topics(stack, suffix, partitions=2, rf=3)
    names = [spec.name for spec in topic_specs(config)]
    try:
        path.write_text(dump_config(config))
        first = run_cli("topics", "ensure", "--config", str(path))
        assert first.returncode == 0, first.stderr
        assert first.stdout.count("created") == 4

        second = run_cli("topics", "ensure", "--config", str(path))
        assert second.returncode == 0, second.stderr
        assert second.stdout.count("unchanged") == 4
        assert "created" not in second.stdout

        # Input records may be dated at most maxFutureSkew ahead of the broker's clock.
        bounds = [topic_config(stack.config.kafka, n)[TIMESTAMP_AFTER_MAX] for n in names]
        assert bounds == ["3600000"] * 3 + [str(2**63 - 1)]  # the dead letters: unbounded

        grown_config = _config_with_topics(stack, suffix, partitions=5, rf=3)
        grown_config.streaming.max_future_skew = timedelta(hours=2)
        path.write_text(dump_config(grown_config))
        grown = run_cli("topics", "ensure", "--config", str(path))
        assert grown.returncode == 0, grown.stderr
        assert grown.stdout.count("partitions increased") == 4
        assert grown.stdout.count(f"{TIMESTAMP_AFTER_MAX} 3600000 -> 7200000") == 3
        bounds = [topic_config(stack.config.kafka, n)[TIMESTAMP_AFTER_MAX] for n in names]
        assert bounds == ["7200000"] * 3 + [str(2**63 - 1)]
        metadata = cluster_metadata(stack.config.kafka)
        assert all(len(metadata.topics[name].partitions) == 5 for name in names)

        path.write_text(dump_config(_config_with_topics(stack, suffix, partitions=3, rf=2)))
        mismatch = run_cli("topics", "ensure", "--config", str(path))
        assert mismatch.returncode == 1
        assert f"topic {names[0]}: replication factor is 3, config says 2" in mismatch.stderr
        assert "has 5 partitions, more than the configured 3" in mismatch.stdout
    finally:
        delete_topics(stack.config.kafka, names)


def test_the_broker_refuses_an_input_record_dated_past_the_bound(
    fresh_config: FreshConfig,
) -> None:
    """A producer cannot date the record itself ahead instead of its event."""
    from confluent_kafka import Producer

    from airlines.produce.publisher import producer_settings

    config = fresh_config.config
    producer = Producer(producer_settings(config.kafka))
    now_ms = int(time.time() * 1000)
    errors: list[Any] = []

    def delivered(err: Any, msg: Any) -> None:
        errors.append(err)

    # One at a time: the broker refuses a whole batch for one record in it.
    for ahead in (timedelta(minutes=50), timedelta(hours=2)):
        producer.produce(
            config.topics[0].name,
            value=b"{}",
            timestamp=now_ms + int(ahead.total_seconds() * 1000),
            on_delivery=delivered,
        )
        assert producer.flush(30) == 0
    assert errors[0] is None
    assert errors[1] is not None
    assert errors[1].code() == KafkaError.INVALID_TIMESTAMP, errors


def test_topics_ensure_returns_once_every_leader_answers_for_its_partitions(
    stack: RunningStack, tmp_path: Path
) -> None:
    """Clients started next can use the topics at once: asked once, without waiting,
    every partition's leader gives its offsets, and a fresh client lists every topic
    with a leader for each partition (before this guarantee a leader still taking a
    partition on answered "unknown topic or partition", once, on a cold CI run).
    """
    from confluent_kafka import Consumer, TopicPartition

    suffix = uuid.uuid4().hex[:8]
    path = tmp_path / "airlines.yaml"
    config = _config_with_topics(stack, suffix, partitions=3, rf=3)
    names = [spec.name for spec in topic_specs(config)]
    consumer = Consumer({**librdkafka_settings(stack.config.kafka), "group.id": "t"})
    try:
        path.write_text(dump_config(config))
        result = run_cli("topics", "ensure", "--config", str(path))
        assert result.returncode == 0, result.stderr
        for name in names:
            for partition in range(3):
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(name, partition), timeout=10
                )
                assert (low, high) == (0, 0), (name, partition)
        metadata = cluster_metadata(stack.config.kafka)
        for name in names:
            assert name in metadata.topics, name
            partitions = metadata.topics[name].partitions.values()
            assert all(p.leader >= 0 for p in partitions), name
    finally:
        consumer.close()
        delete_topics(stack.config.kafka, names)


def test_topics_ensure_names_an_unreachable_cluster(tmp_path: Path) -> None:
    port = find_free_plan().zookeeper
    path = tmp_path / "airlines.yaml"
    path.write_text(
        dump_config(
            AppConfig.model_validate({"kafka": {"bootstrapServers": [f"127.0.0.1:{port}"]}})
        )
    )
    result = run_cli("topics", "ensure", "--config", str(path), "--timeout", "3s")
    assert result.returncode == 1
    assert f"cannot get metadata from 127.0.0.1:{port}" in result.stderr


def test_redis_needs_the_password(stack: RunningStack, tmp_path: Path) -> None:
    host, port = stack.config.redis.nodes[0].split(":")
    access = stack.redis_access
    tls = tls_options(access.tls)
    anonymous = redis.Redis(host=host, port=int(port), **tls)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    wrong = redis.Redis(
        host=host,
        port=int(port),
        username=access.username,
        password="not-the-password",
        **tls,
    )
    with pytest.raises(redis.AuthenticationError):
        wrong.ping()
    right = redis.Redis(host=host, port=int(port), **access.client_options())
    assert right.ping()
    for client in (anonymous, wrong, right):
        client.close()
    wrong_file = tmp_path / "wrong-password"
    wrong_file.write_text("not-the-password\n")
    config = stack.config.model_copy(
        update={"redis": stack.config.redis.model_copy(update={"password_file": str(wrong_file)})}
    )
    path = tmp_path / "wrong.yaml"
    path.write_text(dump_config(config))
    result = run_cli("smoke", "--checks", "redis", "--config", str(path), env=stack.env)
    assert result.returncode == 1
    assert "authentication failed" in result.stdout


def _topology(
    nodes: list[str], access: RedisAccess
) -> set[tuple[str, str, str | None, tuple[tuple[int, int], ...]]]:
    host, port = nodes[0].split(":")
    client = redis.Redis(
        host=host,
        port=int(port),
        **access.client_options(),
        decode_responses=True,
    )
    entries = parse_cluster_nodes(str(client.execute_command("CLUSTER", "NODES")))
    client.close()
    role = {True: "primary", False: "replica"}
    return {(e.id, role[e.is_primary], e.master_id, e.slots) for e in entries}


def test_redis_bootstrap_rerun_changes_nothing(stack: RunningStack) -> None:
    before = _topology(stack.config.redis.nodes, stack.redis_access)
    result = run_cli("redis", "bootstrap", "--config", str(stack.config_path), env=stack.env)
    assert result.returncode == 0, result.stderr
    assert "nothing to do" in result.stdout
    assert "CLUSTER" not in result.stdout
    assert _topology(stack.config.redis.nodes, stack.redis_access) == before


@pytest.fixture
def redis_nodes(tmp_path: Path) -> Iterator[tuple[list[int], str]]:
    """Six independent cluster-enabled Redis nodes (not yet a cluster) on free ports, with
    the ACL users (plaintext); yields their ports and the admin's password."""
    plan = find_free_plan()
    passwords = {user: "pw-" + uuid.uuid4().hex for user in USER_NAMES}
    password = passwords[ADMIN_USER]
    aclfile = tmp_path / "users.acl"
    aclfile.write_text(render_acl(passwords, ["aa"]))
    security = render.RedisServerSecurity(aclfile, passwords[REPLICATION_USER], tls=None)
    redis_server = find_redis_server()
    assert redis_server is not None
    records = {}
    try:
        for port in plan.redis:
            data = tmp_path / f"redis-{port}"
            data.mkdir()
            conf = tmp_path / f"redis-{port}.conf"
            conf.write_text(render.redis_conf(port, data, tmp_path / f"{port}.log", security))
            records[str(port)] = procs.spawn(
                [redis_server, str(conf)], cwd=tmp_path, output=tmp_path / f"{port}.out"
            )
        deadline = time.monotonic() + 30
        for port in plan.redis:
            client = redis.Redis(port=port, username=ADMIN_USER, password=password)
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    assert time.monotonic() < deadline, f"redis {port} did not start"
                    time.sleep(0.1)
            client.close()
        yield plan.redis, password
    finally:
        procs.stop(records, timeout=10)
        assert procs.leftovers(tmp_path) == []


def test_redis_bootstrap_completes_a_half_formed_cluster(
    redis_nodes: tuple[list[int], str], tmp_path: Path
) -> None:
    ports, password = redis_nodes
    clients = [
        redis.Redis(port=p, username=ADMIN_USER, password=password, decode_responses=True)
        for p in ports
    ]
    # Half done: node 0 met nodes 1 and 3, owns slots 0-5000, node 3 replicates node 0.
    clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", ports[1], ports[1] + 10000)
    clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", ports[3], ports[3] + 10000)
    clients[0].execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 5000)
    node0 = str(clients[0].execute_command("CLUSTER", "MYID"))
    deadline = time.monotonic() + 20
    while True:
        try:
            clients[3].execute_command("CLUSTER", "REPLICATE", node0)
            break
        except redis.ResponseError:
            assert time.monotonic() < deadline
            time.sleep(0.2)

    password_file = tmp_path / "password"
    password_file.write_text(password)
    # host names are resolved: "localhost" for half of the nodes
    nodes = [f"{'localhost' if i % 2 else '127.0.0.1'}:{p}" for i, p in enumerate(ports)]
    config = AppConfig.model_validate(
        {
            "redis": {
                "nodes": nodes,
                "username": ADMIN_USER,
                "passwordEnv": None,
                "passwordFile": str(password_file),
            }
        }
    )
    path = tmp_path / "airlines.yaml"
    path.write_text(dump_config(config))

    too_few = tmp_path / "three.yaml"
    too_few.write_text(
        dump_config(
            config.model_copy(
                update={"redis": config.redis.model_copy(update={"nodes": nodes[:3]})}
            )
        )
    )
    refused = run_cli("redis", "bootstrap", "--config", str(too_few))
    assert refused.returncode == 1
    assert "need at least 6" in refused.stderr

    result = run_cli("redis", "bootstrap", "--config", str(path), "--timeout", "60s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CLUSTER MEET" in result.stdout
    assert "cluster formed" in result.stdout

    health = cluster_health(nodes, RedisAccess(ADMIN_USER, password))
    assert health.problems() == []
    primaries = {p.port: p for p in health.primaries()}
    assert len(primaries) == 3
    # what was already done is kept: node 0's slots and node 3 as its replica
    assert primaries[ports[0]].slots[0] == (0, 5000)
    replicas = {e.port: e for e in health.topology if not e.is_primary}
    assert len(replicas) == 3
    assert replicas[ports[3]].master_id == node0
    assert sum(p.slot_count for p in primaries.values()) == 16384

    again = run_cli("redis", "bootstrap", "--config", str(path))
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout

    for client in clients:
        client.close()
