"""``global.config``: the runtime configuration (:class:`airlines.config.AppConfig`) as
the chart renders it into the ConfigMap every pod reads, with the chart's defaults for
Kafka security, Redis credentials and the checkpoint."""

from __future__ import annotations

from pydantic import Field

from airlines.config.chart.conventions import (
    KAFKA_CA_FILE,
    KAFKA_MECHANISM,
    KAFKA_PASSWORD_FILE,
    KAFKA_USERNAME_FILE,
    REDIS_CA_FILE,
    REDIS_PASSWORD_FILE,
)
from airlines.config.models import (
    AppConfig,
    KafkaConfig,
    KafkaSasl,
    KafkaSecurity,
    KafkaTls,
    RedisConfig,
    RedisTls,
    StreamingConfig,
)
from airlines.config.types import Endpoint


def chart_kafka_security() -> KafkaSecurity:
    """What every component of the chart uses by default: SCRAM over TLS, as the
    principal whose Secret the pod mounts, trusting the CA it mounts."""
    return KafkaSecurity(
        protocol="SASL_SSL",
        sasl=KafkaSasl(
            mechanism=KAFKA_MECHANISM,
            username_file=KAFKA_USERNAME_FILE,
            password_file=KAFKA_PASSWORD_FILE,
        ),
        tls=KafkaTls(ca_file=KAFKA_CA_FILE),
    )


class ChartKafkaConfig(KafkaConfig):
    """Kafka client settings; the chart fills in its own brokers."""

    bootstrap_servers: list[Endpoint] = Field(
        default_factory=list,
        description="Brokers of an external Kafka (only with kafka.enabled: false); "
        "empty when the chart deploys Kafka: it fills in its brokers' DNS names.",
    )
    security: KafkaSecurity = Field(
        default_factory=chart_kafka_security,
        description="How every component talks to Kafka. With the chart's Kafka it must "
        "match kafka.auth and kafka.tls (SASL_SSL by default; SASL_PLAINTEXT with "
        "kafka.tls.enabled false), with the user and password files each pod mounts "
        f"({KAFKA_USERNAME_FILE}, {KAFKA_PASSWORD_FILE}) and the CA {KAFKA_CA_FILE}.",
    )


class ChartRedisConfig(RedisConfig):
    """Redis client settings; the chart fills in its own nodes, and for its own Redis each
    client's user, password file and CA."""

    nodes: list[Endpoint] = Field(
        default_factory=list,
        description="Nodes of an external Redis Cluster (only with redis-cluster.enabled: "
        "false); empty when the chart deploys Redis: it fills in its pods' DNS names.",
    )
    password_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of an environment variable holding the password; null: the "
        "chart mounts passwords as files (passwordFile).",
    )
    password_file: str | None = Field(
        REDIS_PASSWORD_FILE,
        description="Where each pod reads its Redis password: the chart mounts its user's "
        f"Secret (or global.redis.auth.existingSecret) at {REDIS_PASSWORD_FILE}. With the "
        "chart's Redis the chart sets it, with username, per client.",
    )
    tls: RedisTls | None = Field(
        None,
        description="Leave null: the chart sets it in every client's config from "
        f"global.redis.tls (the CA at {REDIS_CA_FILE}).",
    )


class ChartStreamingConfig(StreamingConfig):
    """The streaming job; the checkpoint defaults to the job's persistent volume."""

    checkpoint_location: str = Field(
        "/var/lib/airlines/checkpoints/flight-analytics",
        min_length=1,
        description="Query checkpoint: under streaming.checkpoint.mountPath (the job's "
        "PersistentVolumeClaim), or a URI such as s3a://bucket/path.",
    )


class ChartAppConfig(AppConfig):
    """The job/producer configuration (`airlines.config.AppConfig`) the chart renders."""

    kafka: ChartKafkaConfig = Field(
        default_factory=ChartKafkaConfig, description="Kafka client settings."
    )
    redis: ChartRedisConfig = Field(
        default_factory=ChartRedisConfig, description="Redis client settings."
    )
    streaming: ChartStreamingConfig = Field(
        default_factory=ChartStreamingConfig, description="Streaming job."
    )
