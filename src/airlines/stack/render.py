"""The configuration files of the stack's services, rendered from the port plan.

Pure functions (no I/O), so they are unit tested on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from airlines.config import AppConfig
from airlines.stack.ports import HOST, KAFKA_BROKERS, REDIS_BUS_OFFSET, PortPlan

#: JVM heaps: the machine is shared (2 cores); these are enough for a local stack.
ZOOKEEPER_HEAP = "128m"
KAFKA_HEAP = "384m"
#: A Redis node is declared failed after this long without answering (then failover).
REDIS_NODE_TIMEOUT_MS = 5000
#: Topic-level min.insync.replicas for a replication factor (see kafka_admin).
MIN_INSYNC_REPLICAS = 2


def properties(values: Mapping[str, object]) -> str:
    """Java ``.properties`` text, one ``key=value`` per line."""
    lines = []
    for key, value in values.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        lines.append(f"{key}={text}")
    return "\n".join(lines) + "\n"


def zookeeper_cfg(plan: PortPlan, data_dir: Path) -> str:
    """A standalone ZooKeeper on 127.0.0.1 with the ruok/srvr four-letter words."""
    return properties(
        {
            "tickTime": 2000,
            "initLimit": 10,
            "syncLimit": 5,
            "dataDir": data_dir,
            "clientPort": plan.zookeeper,
            "clientPortAddress": HOST,
            "maxClientCnxns": 0,
            "admin.enableServer": False,
            "4lw.commands.whitelist": "ruok,srvr",
            "autopurge.snapRetainCount": 3,
            "autopurge.purgeInterval": 1,
        }
    )


def kafka_properties(broker_id: int, plan: PortPlan, data_dir: Path) -> str:
    """``server.properties`` of broker ``broker_id`` (ZooKeeper mode, replicated defaults)."""
    port = plan.kafka[broker_id]
    listener = f"PLAINTEXT://{HOST}:{port}"
    return properties(
        {
            "broker.id": broker_id,
            "listeners": listener,
            "advertised.listeners": listener,
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "zookeeper.connect": plan.zookeeper_connect,
            "zookeeper.connection.timeout.ms": 30_000,
            "zookeeper.session.timeout.ms": 10_000,
            "log.dirs": data_dir,
            "num.partitions": 3,
            "default.replication.factor": KAFKA_BROKERS,
            "min.insync.replicas": MIN_INSYNC_REPLICAS,
            "offsets.topic.replication.factor": KAFKA_BROKERS,
            "offsets.topic.num.partitions": 12,
            "transaction.state.log.replication.factor": KAFKA_BROKERS,
            "transaction.state.log.min.isr": MIN_INSYNC_REPLICAS,
            "transaction.state.log.num.partitions": 12,
            "auto.create.topics.enable": False,
            "delete.topic.enable": True,
            "unclean.leader.election.enable": False,
            "group.initial.rebalance.delay.ms": 0,
            "num.network.threads": 2,
            "num.io.threads": 4,
            "num.recovery.threads.per.data.dir": 1,
            "background.threads": 4,
            # The log cleaner (compacted __consumer_offsets) would take 128 MiB of heap.
            "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
            "log.cleaner.threads": 1,
            "log.retention.hours": 24,
            "log.segment.bytes": 64 * 1024 * 1024,
            "controlled.shutdown.enable": True,
            "controlled.shutdown.max.retries": 2,
            "controlled.shutdown.retry.backoff.ms": 1000,
            "replica.lag.time.max.ms": 10_000,
        }
    )


def log4j_properties() -> str:
    """One log4j (reload4j) config for ZooKeeper and the brokers.

    Each JVM gets ``-Dairlines.log.file=<stack>/logs/<service>.log``.
    """
    return properties(
        {
            "log4j.rootLogger": "INFO, file",
            "log4j.appender.file": "org.apache.log4j.RollingFileAppender",
            "log4j.appender.file.File": "${airlines.log.file}",
            "log4j.appender.file.MaxFileSize": "20MB",
            "log4j.appender.file.MaxBackupIndex": 2,
            "log4j.appender.file.layout": "org.apache.log4j.PatternLayout",
            "log4j.appender.file.layout.ConversionPattern": "[%d] %p %m (%c)%n",
            "log4j.logger.kafka": "INFO",
            "log4j.logger.org.apache.kafka": "INFO",
            "log4j.logger.kafka.request.logger": "WARN",
            "log4j.logger.kafka.controller": "INFO",
            "log4j.logger.state.change.logger": "WARN",
            "log4j.logger.org.apache.zookeeper": "WARN",
            "log4j.logger.org.apache.zookeeper.server.ZooKeeperServer": "INFO",
        }
    )


def redis_conf(port: int, data_dir: Path, log_file: Path, password: str) -> str:
    """A cluster-enabled, password-protected, append-only Redis node on 127.0.0.1.

    Holds the password: written with mode 0600.
    """
    lines = {
        "bind": HOST,
        "port": port,
        "protected-mode": "yes",
        "daemonize": "no",
        "dir": _quote_path(data_dir),
        "logfile": _quote_path(log_file),
        "cluster-enabled": "yes",
        "cluster-config-file": "nodes.conf",
        "cluster-port": port + REDIS_BUS_OFFSET,
        "cluster-node-timeout": REDIS_NODE_TIMEOUT_MS,
        "cluster-require-full-coverage": "yes",
        "appendonly": "yes",
        "appendfsync": "everysec",
        "save": '""',
        "maxmemory": "512mb",
        "maxmemory-policy": "noeviction",
        "requirepass": _quote(password),
        "masterauth": _quote(password),
    }
    return "".join(f"{key} {value}\n" for key, value in lines.items())


def _quote_path(path: Path) -> str:
    text = str(path).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _quote(value: str) -> str:
    if any(c in value for c in ' "\\\n'):
        raise ValueError("the Redis password must not contain spaces, quotes or backslashes")
    return value


def stack_app_config(base: AppConfig, plan: PortPlan, password_file: Path) -> AppConfig:
    """The config ``stack up`` writes: ``base`` with the stack's endpoints and password file.

    Topics, key prefix, streaming and producer settings are kept from ``base``.
    """
    check_fits_stack(base)
    kafka = base.kafka.model_copy(update={"bootstrap_servers": plan.bootstrap_servers})
    redis = base.redis.model_copy(
        update={"nodes": plan.redis_nodes, "password_file": str(password_file)}
    )
    data = base.model_copy(update={"kafka": kafka, "redis": redis}).model_dump(by_alias=True)
    return AppConfig.model_validate(data)


def check_fits_stack(config: AppConfig) -> None:
    """Topics the stack's three brokers can hold; a ValueError names the field otherwise."""
    for index, topic in enumerate(config.topics):
        if topic.replication_factor > KAFKA_BROKERS:
            raise ValueError(
                f"topics[{index}].replicationFactor: {topic.replication_factor} is more than "
                f"the local stack's {KAFKA_BROKERS} brokers"
            )
    if config.dead_letter.replication_factor > KAFKA_BROKERS:
        raise ValueError(
            f"deadLetter.replicationFactor: {config.dead_letter.replication_factor} is more "
            f"than the local stack's {KAFKA_BROKERS} brokers"
        )
