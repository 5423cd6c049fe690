"""Configuration of a deployment: Kafka, topics, Redis, the streaming job, producers.

One model, three users: the local stack writes it, the streaming job validates it at
start, and the Helm chart renders it into the job's ConfigMap (its values schema is
generated from these models). Files use camelCase keys, like Helm values.

Secrets are never part of it: the Redis password is read from the environment
variable named by ``redis.passwordEnv`` (a Kubernetes Secret in the cluster).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from airlines.config.types import Duration, Endpoint, format_duration
from airlines.contract.event import DEFAULT_MAX_FUTURE_SKEW, Region

#: A region's fleet unless configured (``producers.fleetSize``): hundreds of daily
#: flights, like a real region's, so top-N views and state sizes are realistic.
DEFAULT_FLEET_SIZE = 400
#: The largest fleet a region may fly.
MAX_FLEET_SIZE = 10_000


class Section(BaseModel):
    """Base of every config section: camelCase keys, unknown keys rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_default=True,
    )


class ProducerClient(Section):
    """librdkafka producer settings (the ones worth tuning; safe defaults)."""

    linger_ms: int = Field(
        100,
        ge=0,
        le=60_000,
        description="Wait this long to fill a batch (ms): fuller batches cost the brokers "
        "less per event; a tenth of a second is nothing beside the job's trigger.",
    )
    batch_size: int = Field(
        1_000_000,
        ge=1024,
        le=16_777_216,
        description="Maximum batch size per partition (bytes; librdkafka caps it at its "
        "message.max.bytes, 1000000). Large batches cost the brokers far less per event.",
    )
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "lz4", description="Batch compression codec."
    )
    delivery_timeout_ms: int = Field(
        120_000,
        ge=1000,
        description="Give up on a message (and report it failed) after this long (ms).",
    )


KafkaProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class KafkaSasl(Section):
    """Who the client is: a SASL user and where its password is read from (never the
    password itself)."""

    mechanism: SaslMechanism = Field("SCRAM-SHA-512", description="SASL mechanism.")
    username: str | None = Field(None, min_length=1, description="SASL user name.")
    username_file: str | None = Field(
        None,
        min_length=1,
        description="Path of a file holding the user name (e.g. a mounted Secret), instead "
        "of `username`: one configuration serves components that each mount their own.",
    )
    password_env: str | None = Field(
        None,
        pattern=ENV_NAME_PATTERN,
        description="Name of the environment variable holding the password.",
    )
    password_file: str | None = Field(
        None,
        min_length=1,
        description="Path of a file holding the password (e.g. a mounted Secret).",
    )

    @model_validator(mode="after")
    def _one_source_each(self) -> KafkaSasl:
        if (self.username is None) == (self.username_file is None):
            raise ValueError("set exactly one of username and usernameFile")
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError(
                "set exactly one of passwordFile and passwordEnv (where the password is read "
                "from; never the password itself)"
            )
        return self


class TlsFiles(Section):
    """A client's TLS files: the CA it trusts and, for mutual TLS, its own certificate."""

    ca_file: str = Field(
        min_length=1,
        description="PEM bundle of the CA(s) that signed the servers' certificates.",
    )
    cert_file: str | None = Field(
        None, min_length=1, description="Client certificate (PEM), for mutual TLS."
    )
    key_file: str | None = Field(
        None, min_length=1, description="Client private key (PEM, unencrypted), for mutual TLS."
    )

    @model_validator(mode="after")
    def _pair(self) -> TlsFiles:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("certFile and keyFile: set both (mutual TLS) or neither")
        return self


class KafkaTls(TlsFiles):
    """How the client checks the brokers (and, for mutual TLS, proves who it is)."""

    ca_file: str = Field(
        min_length=1,
        description="PEM bundle of the CA(s) that signed the brokers' certificates (for a "
        "broker with a public certificate: the system bundle, "
        "/etc/ssl/certs/ca-certificates.crt).",
    )


class RedisTls(TlsFiles):
    """How a client checks the Redis nodes (and, for mutual TLS, proves who it is)."""

    ca_file: str = Field(
        min_length=1,
        description="PEM bundle of the CA(s) that signed the Redis nodes' certificates.",
    )
    check_hostname: bool = Field(
        True,
        description="Check that a node's certificate names the address it is reached at. "
        "Off only when nodes announce addresses their certificates cannot name (a pod's IP); "
        "the certificate must still be signed by the CA.",
    )


class KafkaSecurity(Section):
    """How the client talks to the brokers: encryption and authentication."""

    protocol: KafkaProtocol = Field(
        "PLAINTEXT",
        description="security.protocol: SASL_SSL (authenticated and encrypted) for a "
        "secured cluster, such as the local stack's and the chart's; PLAINTEXT only for a "
        "cluster that is open to anyone who can reach it.",
    )
    sasl: KafkaSasl | None = Field(
        None, description="SASL user; required by SASL_SSL and SASL_PLAINTEXT."
    )
    tls: KafkaTls | None = Field(
        None, description="Trusted CA and optional client certificate; required by SSL protocols."
    )

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol.endswith("SSL")

    @model_validator(mode="after")
    def _matches_protocol(self) -> KafkaSecurity:
        if self.uses_sasl and self.sasl is None:
            raise ValueError(
                f"sasl: required with protocol {self.protocol} (mechanism, user and "
                "passwordFile or passwordEnv)"
            )
        if not self.uses_sasl and self.sasl is not None:
            raise ValueError(f"sasl: protocol {self.protocol} does not use SASL; remove it")
        if self.uses_tls and self.tls is None:
            raise ValueError(
                f"tls.caFile: required with protocol {self.protocol} (the CA that signed the "
                "brokers' certificates)"
            )
        if not self.uses_tls and self.tls is not None:
            raise ValueError(f"tls: protocol {self.protocol} does not use TLS; remove it")
        return self


class KafkaConfig(Section):
    """How to reach the Kafka cluster."""

    bootstrap_servers: list[Endpoint] = Field(
        default_factory=lambda: ["localhost:9092"],
        min_length=1,
        description="Brokers to bootstrap from, as host:port.",
    )
    client_id: str = Field("airlines-analytics", min_length=1, description="Kafka client.id.")
    producer: ProducerClient = Field(
        default_factory=ProducerClient, description="Producer client settings."
    )
    security: KafkaSecurity = Field(
        default_factory=KafkaSecurity,
        description="Encryption and authentication (protocol, SASL user, TLS).",
    )


class TopicConfig(Section):
    """An input topic and the route its events are attributed to."""

    name: str = Field(pattern=r"^[a-zA-Z0-9._-]{1,249}$", description="Kafka topic name.")
    region: Region = Field(description="The regional producer that writes to this topic.")
    route: str | None = Field(
        None,
        pattern=r"^[a-z0-9-]{1,64}$",
        description="Route name stamped on events read from this topic "
        "(enrichment and Redis keys). Defaults to the region.",
    )
    partitions: int = Field(3, ge=1, le=1000, description="Partitions when the topic is created.")
    replication_factor: int = Field(
        3, ge=1, le=10, description="Replicas when the topic is created."
    )

    @property
    def route_name(self) -> str:
        return self.route or self.region.value


class DeadLetterConfig(Section):
    """Where records that fail the event contract go, with the reason."""

    topic: str = Field(
        "flights-dead-letter",
        pattern=r"^[a-zA-Z0-9._-]{1,249}$",
        description="Dead-letter topic name.",
    )
    partitions: int = Field(3, ge=1, le=1000, description="Partitions when the topic is created.")
    replication_factor: int = Field(
        3, ge=1, le=10, description="Replicas when the topic is created."
    )


def default_topics() -> list[TopicConfig]:
    return [TopicConfig(name=f"{region.value}-flights", region=region) for region in Region]


class RedisConfig(Section):
    """How to reach the Redis Cluster and how long analytics live there."""

    nodes: list[Endpoint] = Field(
        default_factory=lambda: ["localhost:7000"],
        min_length=1,
        description="Startup nodes of the Redis Cluster, as host:port.",
    )
    address_remap: dict[Endpoint, Endpoint] = Field(
        default_factory=dict,
        description="Reach announced node addresses elsewhere, as host:port -> host:port "
        "(e.g. a pod's DNS name -> a local kubectl port-forward); readers only.",
    )
    username: str | None = Field(None, description="ACL user name; null for the default user.")
    tls: RedisTls | None = Field(
        None,
        description="TLS to the nodes (the CA that signed their certificates, and a client "
        "certificate when they ask for one); null for plaintext.",
    )
    password_env: str | None = Field(
        "REDIS_PASSWORD",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable holding the password "
        "(never the password itself); null when the cluster has no password.",
    )
    password_file: str | None = Field(
        None,
        description="Path of a file holding the password (e.g. a mounted Secret); "
        "used when the environment variable is unset.",
    )
    ttl: Duration = Field(
        timedelta(days=2),
        description="Expiry of analytics keys, re-applied on every write.",
    )
    key_prefix: str = Field(
        "aa", pattern=r"^[a-z0-9]{1,16}$", description="Prefix of every key the job writes."
    )
    top_n: int = Field(
        20, ge=1, le=1000, description="Kept entries of a route's recent-windows index."
    )
    ack_replicas: int = Field(
        1,
        ge=0,
        le=5,
        description="Replicas that must acknowledge the job's writes (Redis WAIT) before a "
        "batch counts as written, so that a primary's failover loses none of them; 0 to not "
        "wait (writes go on while a primary has no replica, and a failover may lose the last).",
    )


class StreamingConfig(Section):
    """The Structured Streaming job."""

    trigger: Duration = Field(timedelta(seconds=30), description="Micro-batch trigger interval.")
    watermark: Duration = Field(
        timedelta(minutes=1),
        ge=timedelta(0),
        description="How late an event may arrive (event time) and still be aggregated.",
    )
    max_future_skew: Duration = Field(
        DEFAULT_MAX_FUTURE_SKEW,
        description="How far an event's timestamp may lie ahead of its Kafka record's "
        "timestamp (the producer's clock when it sent it). An event further ahead is "
        "dead-lettered: it would move the watermark past every other event. Older events "
        "are always allowed.",
    )
    window: Duration = Field(timedelta(minutes=5), description="Aggregation window length.")
    slide: Duration | None = Field(
        None,
        description="Slide of a sliding window; null for tumbling windows.",
    )
    checkpoint_location: str = Field(
        ".state/checkpoints/flight-analytics",
        min_length=1,
        description="Directory (local path or URI) of the query checkpoint.",
    )
    shuffle_partitions: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description="spark.sql.shuffle.partitions; null means the cores available. "
        "Cannot change once a checkpoint exists.",
    )
    starting_offsets: Literal["earliest", "latest"] = Field(
        "earliest",
        description="Where a new query (no checkpoint) starts reading. "
        "A restart always resumes from the checkpoint.",
    )
    max_offsets_per_trigger: int | None = Field(
        None, ge=1, description="Cap on records per micro-batch; null for no cap."
    )

    @field_validator("trigger", "window", "max_future_skew")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value

    @field_validator("slide")
    @classmethod
    def _slide_within_window(
        cls, value: timedelta | None, info: ValidationInfo
    ) -> timedelta | None:
        if value is None:
            return value
        if value <= timedelta(0):
            raise ValueError("must be positive")
        window = info.data.get("window")
        if window is not None and value > window:
            raise ValueError(f"must not be longer than window ({format_duration(window)})")
        return value


class ProducerConfig(Section):
    """The regional flight simulators."""

    rate: float = Field(
        50.0,
        gt=0,
        le=1_000_000,
        description="Events per second per producer. Event times are the wall clock "
        "whatever the rate: above real time, each flight is observed more often.",
    )
    fleet_size: int = Field(
        DEFAULT_FLEET_SIZE,
        ge=12,
        le=MAX_FLEET_SIZE,
        description="Recurring flights each region's simulator operates, 12 to 10,000 "
        "(every day: same number, route and departure time).",
    )
    seed: int | None = Field(None, description="Random seed; null for a random run.")


class DashboardConfig(Section):
    """The web dashboard's limits (`airlines dashboard`)."""

    max_streams: int = Field(
        64,
        ge=1,
        le=10_000,
        description="Live event streams (server-sent events) open at once, in total; "
        "beyond it a new one gets 429. Each polls Redis once a second.",
    )
    max_streams_per_client: int = Field(
        4,
        ge=1,
        le=1_000,
        description="Live event streams one client (its address; behind an "
        "authenticating proxy, the user it names in X-Forwarded-User) may keep open; "
        "beyond it, 429.",
    )

    @model_validator(mode="after")
    def _per_client_within_total(self) -> DashboardConfig:
        if self.max_streams_per_client > self.max_streams:
            raise ValueError(
                f"maxStreamsPerClient: must not exceed maxStreams "
                f"({self.max_streams_per_client} > {self.max_streams})"
            )
        return self


class AppConfig(Section):
    """Everything the producers, the streaming job and the CLI need to run."""

    kafka: KafkaConfig = Field(default_factory=KafkaConfig, description="Kafka connection.")
    topics: list[TopicConfig] = Field(
        default_factory=default_topics,
        min_length=1,
        description="Input topics, one per regional feed.",
    )
    dead_letter: DeadLetterConfig = Field(
        default_factory=DeadLetterConfig, description="Dead-letter topic."
    )
    redis: RedisConfig = Field(default_factory=RedisConfig, description="Redis Cluster.")
    streaming: StreamingConfig = Field(
        default_factory=StreamingConfig, description="Streaming job."
    )
    producers: ProducerConfig = Field(
        default_factory=ProducerConfig, description="Flight simulators."
    )
    dashboard: DashboardConfig = Field(
        default_factory=DashboardConfig, description="Web dashboard."
    )

    @model_validator(mode="after")
    def _consistent(self) -> AppConfig:
        names = [t.name for t in self.topics]
        if len(set(names)) != len(names):
            raise ValueError(f"topics: topic names must be unique, got {names}")
        regions = [t.region for t in self.topics]
        if len(set(regions)) != len(regions):
            raise ValueError("topics: each region may feed only one topic")
        if self.dead_letter.topic in names:
            raise ValueError("deadLetter.topic: must not also be an input topic")
        horizon = self.streaming.window + self.streaming.watermark
        if self.redis.ttl <= horizon:
            raise ValueError(
                "redis.ttl: must be longer than streaming.window + streaming.watermark, "
                "or windows would expire while still being updated"
            )
        return self

    @property
    def topic_names(self) -> list[str]:
        """Every topic the system uses: the input topics, then the dead-letter topic."""
        return [*(t.name for t in self.topics), self.dead_letter.topic]

    def topic_for_region(self, region: Region) -> TopicConfig:
        for topic in self.topics:
            if topic.region is region:
                return topic
        raise KeyError(f"no topic is configured for region {region.value!r}")
