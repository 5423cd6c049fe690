"""Configuration files the local stack renders for its services."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlines.config import AppConfig, dump_config, load_config
from airlines.stack.layout import StackLayout
from airlines.stack.ports import plan_ports
from airlines.stack.render import (
    BrokerTls,
    RedisServerSecurity,
    RedisServerTls,
    check_fits_stack,
    client_security,
    kafka_properties,
    log4j_properties,
    redis_client,
    redis_conf,
    stack_app_config,
    zookeeper_cfg,
)

PLAN = plan_ports(base=15000)


def parse_properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")


def test_zookeeper_is_local_with_readiness_words() -> None:
    cfg = parse_properties(zookeeper_cfg(PLAN, Path("/s/data/zookeeper")))
    assert cfg["clientPort"] == "15000"
    assert cfg["clientPortAddress"] == "127.0.0.1"
    assert cfg["4lw.commands.whitelist"] == "ruok,srvr"
    assert cfg["admin.enableServer"] == "false"
    assert cfg["dataDir"] == "/s/data/zookeeper"
    assert cfg["enforce.auth.enabled"] == "true"
    assert cfg["enforce.auth.schemes"] == "sasl"


TLS = BrokerTls(Path("/s/kafka/broker.pem"), Path("/s/kafka/ca.crt"), "broker-pw")


@pytest.mark.parametrize("broker", [0, 1, 2])
def test_kafka_broker_properties(broker: int) -> None:
    props = parse_properties(kafka_properties(broker, PLAN, Path(f"/s/data/kafka-{broker}"), TLS))
    assert props["broker.id"] == str(broker)
    assert props["listeners"] == f"SASL_SSL://127.0.0.1:{15001 + broker}"
    assert props["advertised.listeners"] == props["listeners"]
    assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL"
    assert "PLAINTEXT" not in props["listener.security.protocol.map"].replace("SASL_", "")
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:broker;User:admin"
    assert props["zookeeper.set.acl"] == "true"
    assert props["ssl.keystore.location"] == "/s/kafka/broker.pem"
    assert (
        'username="broker" password="broker-pw";'
        in props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    )
    assert props["zookeeper.connect"] == "127.0.0.1:15000"
    assert props["log.dirs"] == f"/s/data/kafka-{broker}"
    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    assert props["auto.create.topics.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["unclean.leader.election.enable"] == "false"


def test_log4j_writes_to_the_file_each_jvm_names() -> None:
    props = parse_properties(log4j_properties())
    assert props["log4j.appender.file.File"] == "${airlines.log.file}"
    assert props["log4j.rootLogger"].startswith("INFO")


REDIS_TLS = RedisServerTls(Path("/s/redis/server.crt"), Path("/s/redis/server.key"), Path("/ca"))


def _redis_lines(tls: RedisServerTls | None, password: str = "s3cret-Pw_1") -> dict[str, str]:
    security = RedisServerSecurity(Path("/s/redis/users.acl"), password, tls)
    text = redis_conf(15004, Path("/s/data/redis 15004"), Path("/s/logs/r.log"), security)
    return dict(line.split(" ", 1) for line in text.splitlines())


def test_redis_node_config() -> None:
    lines = _redis_lines(REDIS_TLS)
    assert lines["port"] == "0"
    assert lines["tls-port"] == "15004"
    assert lines["tls-cert-file"] == '"/s/redis/server.crt"'
    assert lines["tls-key-file"] == '"/s/redis/server.key"'
    assert lines["tls-ca-cert-file"] == '"/ca"'
    assert lines["tls-auth-clients"] == "optional"
    assert lines["tls-replication"] == "yes"
    assert lines["tls-cluster"] == "yes"
    assert lines["bind"] == "127.0.0.1"
    assert lines["cluster-enabled"] == "yes"
    assert lines["cluster-port"] == "25004"
    assert lines["appendonly"] == "yes"
    assert lines["aclfile"] == '"/s/redis/users.acl"'
    assert "requirepass" not in lines
    assert lines["masteruser"] == "replication"
    assert lines["masterauth"] == "s3cret-Pw_1"
    assert lines["dir"] == '"/s/data/redis 15004"'


def test_redis_node_config_in_plaintext() -> None:
    lines = _redis_lines(None)
    assert lines["port"] == "15004"
    assert not [key for key in lines if key.startswith("tls-")]
    assert lines["aclfile"] == '"/s/redis/users.acl"'


def test_redis_password_must_be_config_safe() -> None:
    with pytest.raises(ValueError, match="must not contain spaces"):
        _redis_lines(None, "has space")


def test_stack_config_keeps_settings_and_uses_stack_endpoints(tmp_path: Path) -> None:
    base = AppConfig.model_validate(
        {
            "topics": [{"name": "east", "region": "east-coast", "partitions": 6}],
            "redis": {"keyPrefix": "zz", "nodes": ["elsewhere:1"]},
            "streaming": {"trigger": "5s"},
        }
    )
    layout = StackLayout(tmp_path)
    admin = client_security("admin", tmp_path / "admin-password", tmp_path / "ca.crt")
    redis = redis_client(
        base.redis, "admin", layout.redis_password_file("admin"), tmp_path / "ca.crt"
    )
    config = stack_app_config(base, PLAN, redis, admin)
    assert config.kafka.security == admin
    assert config.kafka.bootstrap_servers == [
        "127.0.0.1:15001",
        "127.0.0.1:15002",
        "127.0.0.1:15003",
    ]
    assert config.redis.nodes == [f"127.0.0.1:{p}" for p in range(15004, 15010)]
    assert config.redis.username == "admin"
    assert config.redis.password_file == str(tmp_path / "redis" / "passwords" / "admin")
    assert config.redis.password_env is None
    assert config.redis.tls is not None
    assert config.redis.tls.ca_file == str(tmp_path / "ca.crt")
    assert config.redis.key_prefix == "zz"
    assert config.topics[0].partitions == 6
    assert config.streaming.trigger.total_seconds() == 5
    path = tmp_path / "airlines.yaml"
    path.write_text(dump_config(config))
    assert load_config(path) == config


def test_topics_must_fit_three_brokers() -> None:
    config = AppConfig.model_validate(
        {"topics": [{"name": "east", "region": "east-coast", "replicationFactor": 4}]}
    )
    with pytest.raises(ValueError, match=r"topics\[0\]\.replicationFactor: 4 is more than"):
        check_fits_stack(config)
    config = AppConfig.model_validate({"deadLetter": {"replicationFactor": 5}})
    with pytest.raises(ValueError, match=r"deadLetter\.replicationFactor"):
        check_fits_stack(config)


def test_layout_purges_only_its_own_files(tmp_path: Path) -> None:
    layout = StackLayout(tmp_path)
    assert all(path.parent == tmp_path for path in layout.purgeable())
    assert layout.pid_file("kafka-0") == tmp_path / "run" / "kafka-0.pid"


def test_an_insecure_stack_is_asked_for_and_is_open() -> None:
    props = parse_properties(kafka_properties(0, PLAN, Path("/s/data/kafka-0"), None))
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:15001"
    assert "authorizer.class.name" not in props
    assert "zookeeper.set.acl" not in props
    cfg = parse_properties(zookeeper_cfg(PLAN, Path("/z"), enforce_auth=False))
    assert "enforce.auth.enabled" not in cfg
