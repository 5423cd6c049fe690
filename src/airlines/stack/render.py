"""The configuration files of the stack's services, rendered from the port plan.

Pure functions (no I/O), so they are unit tested on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from airlines.config import AppConfig, KafkaSasl, KafkaSecurity, KafkaTls, RedisConfig, RedisTls
from airlines.kafka.principals import ADMIN_USER, BROKER_USER
from airlines.kafka.settings import jaas_login, jaas_quote
from airlines.stack.ports import HOST, KAFKA_BROKERS, REDIS_BUS_OFFSET, PortPlan
from airlines.store.users import REPLICATION_USER

#: JVM heaps: the machine is shared (2 cores); these are enough for a local stack.
ZOOKEEPER_HEAP = "128m"
KAFKA_HEAP = "384m"
#: A Redis node is declared failed after this long without answering (then failover).
REDIS_NODE_TIMEOUT_MS = 5000
#: The SASL mechanism of the stack's brokers.
SCRAM_MECHANISM = "SCRAM-SHA-512"
#: The DIGEST-MD5 user the brokers log in to ZooKeeper as.
ZOOKEEPER_USER = "kafka"
#: Topic-level min.insync.replicas for a replication factor (see kafka_admin).
MIN_INSYNC_REPLICAS = 2


def properties(values: Mapping[str, object]) -> str:
    """Java ``.properties`` text, one ``key=value`` per line."""
    lines = []
    for key, value in values.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        lines.append(f"{key}={text}")
    return "\n".join(lines) + "\n"


def zookeeper_cfg(plan: PortPlan, data_dir: Path, *, enforce_auth: bool = True) -> str:
    """A standalone ZooKeeper on 127.0.0.1 with the ruok/srvr four-letter words."""
    auth = {
        # Every client session must authenticate (SASL DIGEST-MD5, zookeeper-jaas.conf):
        # only the brokers (and the stack's own bootstrap of their credentials) can.
        "authProvider.sasl": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
        "enforce.auth.enabled": True,
        "enforce.auth.schemes": "sasl",
    }
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
            **(auth if enforce_auth else {}),
            "autopurge.snapRetainCount": 3,
            "autopurge.purgeInterval": 1,
        }
    )


def zookeeper_jaas(kafka_password: str) -> str:
    """ZooKeeper's JAAS: the one DIGEST-MD5 user, ``kafka``, its clients log in as."""
    return (
        "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        f"  user_{ZOOKEEPER_USER}={jaas_quote(kafka_password)};\n}};\n"
    )


def zookeeper_client_jaas(kafka_password: str) -> str:
    """The brokers' (and the credential bootstrap's) JAAS ``Client``: ZooKeeper login."""
    return (
        "Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        f"  username={jaas_quote(ZOOKEEPER_USER)}\n  password={jaas_quote(kafka_password)};\n}};\n"
    )


@dataclass(frozen=True)
class BrokerTls:
    """The files of the brokers' TLS and the broker principal's SCRAM password."""

    keystore: Path  # PKCS#8 key and certificate chain, PEM
    truststore: Path  # the CA, PEM
    broker_password: str


def _listener_security(tls: BrokerTls) -> dict[str, object]:
    broker_login = jaas_login(SCRAM_MECHANISM, BROKER_USER, tls.broker_password)
    return {
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL",
        "inter.broker.listener.name": "SASL_SSL",
        "sasl.enabled.mechanisms": SCRAM_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
        f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": broker_login,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": tls.keystore,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": tls.truststore,
        "ssl.client.auth": "none",
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "allow.everyone.if.no.acl.found": False,
        "super.users": f"User:{BROKER_USER};User:{ADMIN_USER}",
        # The brokers' znodes are writable by their SASL identity only.
        "zookeeper.set.acl": True,
    }


def kafka_properties(broker_id: int, plan: PortPlan, data_dir: Path, tls: BrokerTls | None) -> str:
    """``server.properties`` of broker ``broker_id`` (ZooKeeper mode, replicated defaults).

    One listener, SASL_SSL with SCRAM-SHA-512, for clients and the other brokers alike (the
    brokers log in as ``broker``); ACLs decide the rest (:mod:`airlines.kafka.principals`).
    Holds the broker's password: written with mode 0600. ``tls`` None: a PLAINTEXT
    listener open to anyone (``stack up --insecure-kafka``, to measure what security costs).
    """
    port = plan.kafka[broker_id]
    protocol = "PLAINTEXT" if tls is None else "SASL_SSL"
    listener = f"{protocol}://{HOST}:{port}"
    security = (
        {"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT",
         "inter.broker.listener.name": "PLAINTEXT"}
        if tls is None
        else _listener_security(tls)
    )  # fmt: skip
    return properties(
        {
            "broker.id": broker_id,
            "listeners": listener,
            "advertised.listeners": listener,
            **security,
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


@dataclass(frozen=True)
class RedisServerSecurity:
    """A node's ACL file, the replication user's password and (None: plaintext) TLS."""

    aclfile: Path
    replication_password: str
    tls: RedisServerTls | None


@dataclass(frozen=True)
class RedisServerTls:
    cert_file: Path
    key_file: Path
    ca_file: Path


def redis_conf(port: int, data_dir: Path, log_file: Path, security: RedisServerSecurity) -> str:
    """A cluster-enabled, append-only Redis node on 127.0.0.1 with ACL users.

    Its users come from the ACL file (:mod:`airlines.store.users`; ``default`` is off); a
    replica logs in to its primary as the replication user. With TLS, the node's port
    speaks TLS only (``port 0``), and so do replication and the cluster bus; clients need
    no certificate of their own. Holds the replication password: written with mode 0600.
    """
    listen: dict[str, object] = {"port": port}
    if security.tls is not None:
        listen = {
            "port": 0,
            "tls-port": port,
            "tls-cert-file": _quote_path(security.tls.cert_file),
            "tls-key-file": _quote_path(security.tls.key_file),
            "tls-ca-cert-file": _quote_path(security.tls.ca_file),
            "tls-auth-clients": "optional",
            "tls-replication": "yes",
            "tls-cluster": "yes",
        }
    lines = {
        "bind": HOST,
        **listen,
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
        "aclfile": _quote_path(security.aclfile),
        "masteruser": REPLICATION_USER,
        "masterauth": _quote(security.replication_password),
    }
    return "".join(f"{key} {value}\n" for key, value in lines.items())


def _quote_path(path: Path) -> str:
    text = str(path).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _quote(value: str) -> str:
    if any(c in value for c in ' "\\\n'):
        raise ValueError("the Redis password must not contain spaces, quotes or backslashes")
    return value


def redis_client(
    base: RedisConfig, user: str, password_file: Path, ca_file: Path | None
) -> RedisConfig:
    """``base`` logged in as one of the stack's Redis users (TLS when ``ca_file``)."""
    return base.model_copy(
        update={
            "username": user,
            "password_file": str(password_file),
            "password_env": None,
            "tls": None if ca_file is None else RedisTls(ca_file=str(ca_file)),
        }
    )


def client_security(user: str, password_file: Path, ca_file: Path) -> KafkaSecurity:
    """Kafka client security of one of the stack's SCRAM users."""
    return KafkaSecurity(
        protocol="SASL_SSL",
        sasl=KafkaSasl(mechanism=SCRAM_MECHANISM, username=user, password_file=str(password_file)),
        tls=KafkaTls(ca_file=str(ca_file)),
    )


def stack_app_config(
    base: AppConfig, plan: PortPlan, redis: RedisConfig, kafka_security: KafkaSecurity
) -> AppConfig:
    """The config ``stack up`` writes: ``base`` with the stack's endpoints, Redis client
    (its user, password file and TLS) and Kafka client security.

    Topics, key prefix, streaming and producer settings are kept from ``base``.
    """
    check_fits_stack(base)
    kafka = base.kafka.model_copy(
        update={"bootstrap_servers": plan.bootstrap_servers, "security": kafka_security}
    )
    redis = redis.model_copy(update={"nodes": plan.redis_nodes})
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
