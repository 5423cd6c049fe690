"""The local stack's Kafka is secured as the chart's: SCRAM over TLS, one principal per
component with exactly its ACLs, and a ZooKeeper that only the brokers can use."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.cimpl import NewTopic

from airlines.config import KafkaConfig, KafkaSasl, KafkaSecurity, KafkaTls, dump_config
from airlines.kafka.admin import admin_client
from airlines.kafka.settings import librdkafka_settings
from airlines.stack.prereqs import check_prerequisites
from airlines_testkit.stack import RunningStack, run_cli

pytestmark = pytest.mark.integration

EAST, WEST = "east-coast-flights", "west-coast-flights"


def _security(kafka: KafkaConfig, **update: object) -> KafkaConfig:
    return kafka.model_copy(update={"security": kafka.security.model_copy(update=update)})


def _metadata_error(kafka: KafkaConfig) -> str:
    """What a client with these settings is told when it asks for metadata (empty: it
    works): the errors librdkafka reports, then the request's own."""
    reported: list[str] = []
    admin = admin_client(
        kafka,
        **{
            "socket.connection.setup.timeout.ms": 3000,
            "error_cb": lambda e: reported.append(e.str()),
        },
    )
    try:
        admin.list_topics(timeout=6)
    except KafkaException as exc:
        admin.poll(1)  # serves error_cb
        reported.append(str(exc.args[0].str() if exc.args else exc))
        return " | ".join(dict.fromkeys(reported))
    return ""


def _produce(kafka: KafkaConfig, topic: str) -> KafkaError | None:
    """Send one record; the broker's error, or None when it is acknowledged."""
    outcome: list[KafkaError | None] = []
    producer = Producer({**librdkafka_settings(kafka), "acks": "all", "message.timeout.ms": 15_000})
    producer.produce(topic, b"{}", on_delivery=lambda err, _msg: outcome.append(err))
    producer.flush(20)
    assert outcome, f"no delivery report for {topic}"
    return outcome[0]


@pytest.fixture(scope="module")
def users(stack: RunningStack) -> dict[str, KafkaConfig]:
    names = ["producer-east-coast", "streaming", "topics", "smoke"]
    return {name: stack.local.kafka_user(name) for name in names}


def test_a_client_without_credentials_or_with_a_wrong_password_is_refused(
    stack: RunningStack, tmp_path: Path
) -> None:
    kafka = stack.config.kafka
    assert _metadata_error(kafka) == ""
    plain = kafka.model_copy(update={"security": KafkaSecurity(protocol="PLAINTEXT")})
    assert _metadata_error(plain) != ""
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    assert kafka.security.sasl is not None
    bad_sasl = kafka.security.sasl.model_copy(update={"password_file": str(wrong)})
    error = _metadata_error(_security(kafka, sasl=bad_sasl))
    assert "Authentication failed" in error or "SASL" in error, error
    unknown = kafka.security.sasl.model_copy(update={"username": "nobody"})
    assert _metadata_error(_security(kafka, sasl=unknown)) != ""
    # TLS with a CA that did not sign the brokers' certificates: the handshake fails.
    other_ca = KafkaTls(ca_file="/etc/ssl/certs/ca-certificates.crt")
    assert "certificate verify failed" in _metadata_error(_security(kafka, tls=other_ca))


def test_a_producer_writes_its_own_topic_only(users: dict[str, KafkaConfig]) -> None:
    east = users["producer-east-coast"]
    assert _produce(east, EAST) is None
    denied = _produce(east, WEST)
    assert denied is not None
    assert denied.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_only_the_streaming_job_writes_dead_letters(
    stack: RunningStack, users: dict[str, KafkaConfig]
) -> None:
    dead_letter = stack.config.dead_letter.topic
    assert _produce(users["streaming"], dead_letter) is None
    for name in ("producer-east-coast", "topics", "smoke"):
        denied = _produce(users[name], dead_letter)
        assert denied is not None, f"{name} wrote a dead letter"
        assert denied.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_the_streaming_job_reads_the_input_topics_but_writes_none(
    users: dict[str, KafkaConfig],
) -> None:
    streaming = users["streaming"]
    consumer = Consumer(
        {**librdkafka_settings(streaming), "group.id": f"airlines-streaming-{uuid.uuid4().hex}"}
    )
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(EAST, 0), timeout=10)
        assert high >= low >= 0
    finally:
        consumer.close()
    denied = _produce(streaming, EAST)
    assert denied is not None
    assert denied.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_no_component_creates_or_deletes_topics_it_must_not(
    users: dict[str, KafkaConfig],
) -> None:
    name = f"acl-probe-{uuid.uuid4().hex[:8]}"
    for user in ("producer-east-coast", "streaming", "smoke", "topics"):
        admin = admin_client(users[user])
        created = admin.create_topics([NewTopic(name, 1, 1)], request_timeout=15)[name]
        with pytest.raises(KafkaException) as raised:
            created.result(timeout=20)
        assert raised.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, user
        deleted = admin.delete_topics([EAST], request_timeout=15)[EAST]
        with pytest.raises(KafkaException) as raised:
            deleted.result(timeout=20)
        assert raised.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, user


def test_the_topics_and_smoke_principals_can_do_their_jobs(
    stack: RunningStack, users: dict[str, KafkaConfig], tmp_path: Path
) -> None:
    for user, command in (
        ("topics", ["topics", "ensure"]),
        ("smoke", ["smoke", "--checks", "kafka"]),
    ):
        path = tmp_path / f"{user}.yaml"
        path.write_text(dump_config(stack.config.model_copy(update={"kafka": users[user]})))
        result = run_cli(*command, "--config", str(path), env=stack.env)
        assert result.returncode == 0, f"{user}: {result.stdout}{result.stderr}"


def _zookeeper_cli(stack: RunningStack, *args: str, jaas: Path | None = None) -> str:
    pre = check_prerequisites()
    login = (
        [f"-Djava.security.auth.login.config={jaas}"] if jaas else ["-Dzookeeper.sasl.client=false"]
    )
    result = subprocess.run(
        [pre.java, *login, "-cp", pre.classpath, "org.apache.zookeeper.ZooKeeperMain",
         "-server", stack.status.zookeeper, *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return result.stdout + result.stderr


def test_zookeeper_serves_only_the_brokers_and_their_znodes_are_theirs(
    stack: RunningStack,
) -> None:
    anonymous = _zookeeper_cli(stack, "ls", "/brokers/ids")
    assert "client failed to authenticate" in anonymous
    assert "[0, 1, 2]" not in anonymous
    jaas = stack.local.layout.kafka_jaas
    assert "[0, 1, 2]" in _zookeeper_cli(stack, "ls", "/brokers/ids", jaas=jaas)
    acl = _zookeeper_cli(stack, "getAcl", "/brokers/ids/0", jaas=jaas)
    # Writable by the brokers' SASL identity only (world-readable, as Kafka sets it).
    assert "'sasl,'kafka\n: cdrwa" in acl
    assert "'world,'anyone\n: r\n" in acl


def test_the_sasl_user_must_name_its_password_source() -> None:
    with pytest.raises(ValueError, match="passwordFile and passwordEnv"):
        KafkaSasl(username="u")
