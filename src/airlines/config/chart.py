"""Values of the Helm chart bundle (``charts/airlines-analytics``), as pydantic models.

The chart's ``values.schema.json`` is generated from :class:`ChartValues`
(``airlines values schema``), ``airlines values validate`` checks values files with it,
and a test keeps the committed schema, the chart's ``values.yaml`` and these defaults
equal. The runtime sections (topics, dead letter, streaming, Redis TTL and key prefix,
producers, Kafka client settings) are the models of :mod:`airlines.config.models`
themselves: ``global.config`` is rendered into the ConfigMap every pod reads as
``/etc/airlines/config.yaml``, with the in-cluster Kafka brokers and Redis nodes filled
in by the chart (:meth:`ChartValues.app_config` computes the same document).

Layout: one key per subchart (``zookeeper``, ``kafka``, ``redis-cluster``, ``rbac``,
``producers``, ``streaming``, ``spark-operator``), each with ``enabled`` (the
dependency's ``condition``); facts more than one subchart needs (names, images, the
Redis Secret, the runtime config) under ``global``. Nested objects reject unknown keys;
Helm copies ``global`` into every subchart's values, so each subchart section accepts
that key too.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from airlines.config.chart_blocks import (
    ChartSection,
    Cidr,
    Disruption,
    DnsName,
    HookJob,
    ImageValues,
    JvmMemory,
    JvmOptions,
    Persistence,
    Port,
    Quantity,
    Resources,
    Scheduling,
    SubchartValues,
    check_deadline_covers_timeout,
    resources,
)
from airlines.config.chart_dashboard import (
    DashboardValues,
    MetricsEndpoint,
    MonitoringValues,
    job_metrics,
    producer_metrics,
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
from airlines.config.types import Duration, Endpoint
from airlines.contract.event import Region

#: Where the config ConfigMap is mounted in every pod, and the flag that names it.
CONFIG_MOUNT_DIR = "/etc/airlines"
CONFIG_PATH = f"{CONFIG_MOUNT_DIR}/config.yaml"

#: Where every pod that talks to Kafka finds its own principal's user name and password
#: (its Secret) and the CA that signed the brokers' certificates: the config's
#: ``kafka.security`` names these files, each pod mounts its own.
KAFKA_CREDENTIALS_DIR = f"{CONFIG_MOUNT_DIR}/kafka"
KAFKA_USERNAME_FILE = f"{KAFKA_CREDENTIALS_DIR}/username"
KAFKA_PASSWORD_FILE = f"{KAFKA_CREDENTIALS_DIR}/password"
KAFKA_CA_DIR = f"{CONFIG_MOUNT_DIR}/kafka-ca"
KAFKA_CA_FILE = f"{KAFKA_CA_DIR}/ca.crt"
#: The only SASL mechanism of the chart's brokers (their users are SCRAM credentials).
KAFKA_MECHANISM = "SCRAM-SHA-512"

#: Fixed ports, shared by Services, StatefulSets, NetworkPolicies and the config.
KAFKA_PORT = 9092
#: The brokers' own listener (replication, the controller): brokers only.
KAFKA_BROKER_PORT = 9093
REDIS_PORT = 6379
ZOOKEEPER_PORT = 2181

#: Longest release-wide name prefix: leaves room for ``-redis-cluster-headless`` and
#: StatefulSet pod suffixes within Kubernetes' 63-character names.
PREFIX_MAX = 30

# --- global -----------------------------------------------------------------------------


class ProjectImages(ChartSection):
    """The project's own images (images/ in the repository)."""

    producer: ImageValues = Field(
        default_factory=lambda: ImageValues(repository="airlines-analytics/producer", tag="0.1.0"),
        description="Slim image with the `airlines` CLI: producers, hook jobs, helm tests.",
    )
    spark_job: ImageValues = Field(
        default_factory=lambda: ImageValues(repository="airlines-analytics/spark-job", tag="0.1.0"),
        description="apache/spark with the project and the Kafka connector jars baked in.",
    )


class RedisAuth(ChartSection):
    """Who may talk to Redis: an ACL user per kind of client, the default user off."""

    enabled: bool = Field(
        True,
        description="ACL users, one per kind of client (writer: the streaming job's sink; "
        "reader: the dashboard; admin: cluster formation, the bootstrap hook, helm test; "
        "replication: the replicas' masteruser), each with a generated password in a "
        "Secret of its own (kept across upgrades), mounted as a file; the `default` user "
        "is off. false only with allowInsecure: true.",
    )
    allow_insecure: bool = Field(
        False,
        description="Allow auth.enabled: false, a Redis anyone who reaches it may read, "
        "overwrite and flush (the chart's notes say so).",
    )
    existing_secret: str = Field(
        "",
        pattern=r"^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        max_length=253,
        description="An external Redis's password (redis-cluster.enabled: false): a Secret "
        "every client mounts at /etc/airlines/redis/password, for the user "
        "global.config.redis.username names. Unused with the chart's Redis: each client "
        "mounts its own user's Secret.",
    )
    existing_secret_password_key: str = Field(
        "redis-password",
        min_length=1,
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="Key of the password in the Secret.",
    )


SecretName = Annotated[str, Field(pattern=r"^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)]


class GlobalKafka(ChartSection):
    """Kafka facts every component that talks to Kafka needs: whose credentials it mounts
    and which CA it trusts (global.config.kafka.security names the files)."""

    existing_secret: SecretName = Field(
        "",
        description="An external Kafka's credentials (kafka.enabled: false): a Secret with "
        "`username` and `password` (and `ca.crt`, when global.config.kafka.security.tls."
        "caFile is /etc/airlines/kafka-ca/ca.crt) that every component mounts. Empty with "
        "the chart's Kafka: each component mounts its own principal's Secret, generated "
        "by the chart.",
    )
    ca_secret: SecretName = Field(
        "",
        description="Secret whose `ca.crt` every client trusts (mounted at "
        "/etc/airlines/kafka-ca/ca.crt). Empty: the chart's own CA (its Secret "
        "`<prefix>-kafka-tls`, generated or cert-manager's), or global.kafka.existingSecret "
        "with an external Kafka. Required with kafka.tls.existingSecret (usually the same "
        "Secret).",
    )
    user_secrets: dict[str, SecretName] = Field(
        default_factory=dict,
        description="Bring your own credentials: principal -> an existing Secret with "
        "`username` (the principal's name) and `password` (e.g. {streaming: "
        "my-streaming-credentials}). The chart then makes no Secret for that principal, "
        "its pods mount yours, and the topics hook sets its password in Kafka; restart its "
        "pods after you change it. Principals: broker, admin, producer-<region>, streaming, "
        "topics, smoke.",
    )
    credential_generations: dict[str, int] = Field(
        default_factory=dict,
        description="Password rotation: a principal's password is generated anew when its "
        "number here changes (e.g. {producer-east-coast: 2}); its pods restart and the "
        "topics hook sets the new credential. Principals: broker, admin, producer-<region>, "
        "streaming, topics, smoke.",
    )

    @field_validator("user_secrets")
    @classmethod
    def _own_secrets_of_principals(cls, value: dict[str, str]) -> dict[str, str]:
        for user in value:
            if not re.fullmatch(PRINCIPAL_PATTERN, user):
                raise ValueError(
                    f"{user!r} is not a principal of the system (broker, admin, "
                    "producer-<region>, streaming, topics, smoke)"
                )
        return value

    @model_validator(mode="after")
    def _one_source_of_credentials(self) -> GlobalKafka:
        if self.existing_secret and self.user_secrets:
            raise ValueError(
                "userSecrets: not with existingSecret (an external Kafka's one credential "
                "for every component)"
            )
        return self

    @field_validator("credential_generations")
    @classmethod
    def _known_principals(cls, value: dict[str, int]) -> dict[str, int]:
        for user, generation in value.items():
            if not re.fullmatch(PRINCIPAL_PATTERN, user):
                raise ValueError(
                    f"{user!r} is not a principal of the system (broker, admin, "
                    "producer-<region>, streaming, topics, smoke)"
                )
            if generation < 1:
                raise ValueError(f"{user}: a generation is a positive number, got {generation}")
        return value


#: The system's Kafka principals (airlines.kafka.principals.principal_users).
PRINCIPAL_PATTERN = r"^(broker|admin|streaming|topics|smoke|producer-[a-z][-a-z]*)$"


#: The chart's Redis ACL users (``airlines.redis.users`` in the library chart).
REDIS_USERS = ("writer", "reader", "admin", "replication")
#: Where a client of the chart's Redis reads its password and the CA.
REDIS_PASSWORD_FILE = f"{CONFIG_MOUNT_DIR}/redis/password"
REDIS_CA_FILE = f"{CONFIG_MOUNT_DIR}/redis-ca/ca.crt"


def _check_redis_users(value: dict[str, Any]) -> None:
    for user in value:
        if user not in REDIS_USERS:
            raise ValueError(
                f"{user!r} is not a Redis user of the chart ({', '.join(REDIS_USERS)})"
            )


class GlobalRedisTls(ChartSection):
    """TLS between Redis and every client, the nodes among themselves included."""

    enabled: bool = Field(
        True,
        description="TLS only, on the same ports: clients (tls-port, port 0), replication "
        "(tls-replication) and the cluster bus (tls-cluster), whose peers must present a "
        "certificate of the CA; every client's config gets redis.tls with the CA "
        f"({REDIS_CA_FILE}). false: plaintext everywhere, e.g. to measure what TLS costs. "
        "By default the chart generates a CA (Secret `<prefix>-redis-tls`, kept across "
        "upgrades) and each node a certificate for its own DNS name from it at start "
        "(redis-cluster.tls for other sources).",
    )


class GlobalRedis(ChartSection):
    """Redis facts every subchart that talks to Redis needs: whose credentials each pod
    mounts and which CA it trusts."""

    auth: RedisAuth = Field(default_factory=RedisAuth, description="ACL users.")
    tls: GlobalRedisTls = Field(default_factory=GlobalRedisTls, description="TLS.")
    user_secrets: dict[str, SecretName] = Field(
        default_factory=dict,
        description="Bring your own credentials: user -> an existing Secret with "
        "`username` (the user's name) and `password` (e.g. {writer: my-redis-writer}). The "
        "chart then makes no Secret for that user; the nodes and its pods mount yours "
        "(restart them after you change it). Users: writer, reader, admin, replication.",
    )
    credential_generations: dict[str, int] = Field(
        default_factory=dict,
        description="Password rotation: a user's password is generated anew when its "
        "number here changes (e.g. {writer: 2}); the nodes and its pods restart. Users: "
        "writer, reader, admin, replication.",
    )
    ca_secret: SecretName = Field(
        "",
        description="Secret whose `ca.crt` every Redis client trusts (mounted at "
        f"{REDIS_CA_FILE}). Empty: the chart's own CA (its Secret `<prefix>-redis-tls`, "
        "generated or cert-manager's). Required with TLS and an external Redis or "
        "redis-cluster.tls.existingSecret (usually the same Secret).",
    )

    @field_validator("user_secrets")
    @classmethod
    def _known_secret_users(cls, value: dict[str, str]) -> dict[str, str]:
        _check_redis_users(value)
        return value

    @field_validator("credential_generations")
    @classmethod
    def _known_generation_users(cls, value: dict[str, int]) -> dict[str, int]:
        _check_redis_users(value)
        for user, generation in value.items():
            if generation < 1:
                raise ValueError(f"{user}: a generation is a positive number, got {generation}")
        return value


class ApiServerEndpoints(ChartSection):
    """Where the pods that call the Kubernetes API may connect (their only egress)."""

    ports: list[Port] = Field(
        default_factory=lambda: [443, 6443, 8443],
        min_length=1,
        description="TCP ports of the API server: the `kubernetes` Service's (443) and the "
        "one the API server listens on, which NetworkPolicies see once the Service is "
        "resolved (6443 on most clusters, 8443 on minikube).",
    )
    cidrs: list[Cidr] = Field(
        default_factory=list,
        description="The API server's addresses as CIDRs (the `kubernetes` Service's "
        "ClusterIP and its endpoints); empty: any address on those ports.",
    )


def _kube_dns() -> list[dict[str, Any]]:
    return [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]


class ClusterDns(ChartSection):
    """The cluster's DNS servers, the one egress every pod of the namespace has."""

    to: list[dict[str, Any]] = Field(
        default_factory=_kube_dns,
        min_length=1,
        description="NetworkPolicy peers (podSelector/namespaceSelector/ipBlock objects) "
        "of the DNS servers: CoreDNS (k8s-app: kube-dns) in kube-system by default; "
        "NetworkPolicies see the pods behind the kube-dns Service, not its address.",
    )
    ports: list[Port] = Field(
        default_factory=lambda: [53],
        min_length=1,
        description="Ports of the DNS servers' pods (UDP and TCP each).",
    )


class NetworkPolicyValues(ChartSection):
    """NetworkPolicies: only the traffic the system needs."""

    enabled: bool = Field(True, description="Create NetworkPolicies for every component.")
    default_deny: bool = Field(
        True,
        description="Deny all ingress and egress of every pod in the release's namespace "
        "but the flows the chart allows (README: Security, Namespace). false is an "
        "explicit opt-out: pods keep only the per-component ingress policies, and every "
        "egress is open.",
    )
    api_server: ApiServerEndpoints = Field(
        default_factory=ApiServerEndpoints,
        description="The Kubernetes API server, the egress of the pods that call the API "
        "(the Spark driver, the Spark Operator, the apply and stop hooks) and the source "
        "of the calls to the Spark Operator's webhook.",
    )
    dns: ClusterDns = Field(default_factory=ClusterDns, description="Cluster DNS.")
    extra_egress: list[dict[str, Any]] = Field(
        default_factory=list,
        description="NetworkPolicy egress rules (`to` and `ports`) added for every pod of "
        "the release, e.g. an external Kafka's or Redis' addresses (kafka.enabled or "
        "redis-cluster.enabled false).",
    )


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


class GlobalValues(ChartSection):
    """Release-wide facts, visible to every subchart (Helm's `global`)."""

    model_config = ConfigDict(extra="allow")

    fullname_override: str = Field(
        "",
        pattern=r"^$|^[a-z]([-a-z0-9]*[a-z0-9])?$",
        max_length=PREFIX_MAX,
        description="Prefix of every resource name; empty for the release name.",
    )
    cluster_domain: str = Field(
        "cluster.local",
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="Cluster DNS domain, for the pods' fully qualified names.",
    )
    image_registry: str = Field(
        "",
        pattern=r"^$|^[a-zA-Z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$",
        description="Registry for every image without its own registry.",
    )
    image_pull_secrets: list[DnsName] = Field(
        default_factory=list, description="Names of image pull Secrets for every pod."
    )
    images: ProjectImages = Field(default_factory=ProjectImages, description="Project images.")
    kafka: GlobalKafka = Field(
        default_factory=GlobalKafka, description="Kafka credentials and CA of the clients."
    )
    redis: GlobalRedis = Field(default_factory=GlobalRedis, description="Redis facts.")
    network_policy: NetworkPolicyValues = Field(
        default_factory=NetworkPolicyValues, description="NetworkPolicies."
    )
    monitoring: MonitoringValues = Field(
        default_factory=MonitoringValues,
        description="Prometheus scraping (annotations, ServiceMonitors) and Grafana.",
    )
    config: ChartAppConfig = Field(
        default_factory=ChartAppConfig,
        description="Runtime configuration (`airlines.config.AppConfig`), rendered into the "
        "ConfigMap mounted at /etc/airlines/config.yaml.",
    )


# --- subcharts ---------------------------------------------------------------------------


class ZookeeperValues(SubchartValues):
    """The ZooKeeper ensemble Kafka runs against."""

    replica_count: int = Field(3, ge=1, le=7, description="Ensemble size (odd).")
    image: ImageValues = Field(
        default_factory=lambda: ImageValues(repository="zookeeper", tag="3.9.4"),
        description="Official ZooKeeper image.",
    )
    heap: JvmMemory = Field("256m", description="JVM heap (-Xmx).")
    jvm_options: JvmOptions = Field(
        "",
        description="More JVM flags for the server, after the heap in SERVER_JVMFLAGS. "
        "`-XX:TieredStopAtLevel=1` (quick compiler only) suits small clusters, where the "
        "CPU a JVM spends compiling at start-up counts more than its peak speed.",
    )
    resources: Resources = Field(
        default_factory=lambda: resources("100m", "512Mi", "1"), description="Resources."
    )
    persistence: Persistence = Field(default_factory=Persistence, description="Data volume.")
    pdb: Disruption = Field(default_factory=Disruption, description="Disruption budget.")
    scheduling: Scheduling = Field(default_factory=Scheduling, description="Placement.")

    @field_validator("replica_count")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"must be odd (a quorum needs a majority), got {value}")
        return value


class KafkaStopJob(ChartSection):
    """The pre-delete hook Job that stops the brokers (`airlines k8s stop-statefulset`).

    `helm uninstall` deletes everything at once; a broker in ZooKeeper mode shuts down
    cleanly only while ZooKeeper answers. This Job scales the brokers to 0 first, so each
    shuts down in a controlled way (no wait of a whole grace period, no log recovery on
    the next install). It never blocks the uninstall: a failure is logged and the
    uninstall goes on.
    """

    enabled: bool = Field(
        True, description="Stop the brokers before `helm uninstall` deletes the rest."
    )
    timeout: Duration = Field(
        timedelta(minutes=3),
        description="Wait this long for the broker pods to be gone (longer than their "
        "120 s termination grace period); then the uninstall goes on anyway.",
    )
    active_deadline_seconds: int = Field(
        300, ge=30, description="Kubernetes ends the job after this long (seconds)."
    )
    resources: Resources = Field(
        default_factory=lambda: resources("50m", "128Mi", "500m"), description="Resources."
    )

    @model_validator(mode="after")
    def _deadline_covers_timeout(self) -> KafkaStopJob:
        check_deadline_covers_timeout(self.active_deadline_seconds, self.timeout)
        return self


class KafkaAuth(ChartSection):
    """Who may talk to the brokers: SCRAM users, one per component, and ACLs."""

    enabled: bool = Field(
        True,
        description="SASL SCRAM-SHA-512 on every listener (clients and brokers), a "
        "generated password per principal (a Secret each, kept across upgrades), ACLs "
        "enforced by the authorizer (allow.everyone.if.no.acl.found=false; super users: "
        "broker and admin). false only with allowInsecure: true.",
    )
    allow_insecure: bool = Field(
        False,
        description="Allow auth.enabled: false, a Kafka anyone who reaches it may write, "
        "read and delete (the chart's notes say so).",
    )


class CertManagerIssuer(ChartSection):
    """The cert-manager issuer of the brokers' certificate."""

    name: str = Field("", max_length=253, description="Issuer (or ClusterIssuer) name.")
    kind: Literal["Issuer", "ClusterIssuer"] = Field("Issuer", description="Its kind.")
    group: str = Field("cert-manager.io", min_length=1, description="Its API group.")


class CertManagerCertificate(ChartSection):
    """A cert-manager `Certificate`: its issuer and lifetime (each user says what it is for)."""

    enabled: bool = Field(False, description="Request the certificate from cert-manager.")
    issuer_ref: CertManagerIssuer = Field(
        default_factory=CertManagerIssuer, description="The issuer (name required)."
    )
    duration: str = Field(
        "2160h", pattern=r"^[0-9]+h$", description="Certificate lifetime (hours)."
    )
    renew_before: str = Field(
        "360h", pattern=r"^[0-9]+h$", description="Renew this long before it expires."
    )


class KafkaCertManager(CertManagerCertificate):
    """The brokers' certificate from cert-manager (a `Certificate`) instead of the chart's CA."""

    enabled: bool = Field(
        False,
        description="Request the brokers' certificate (every broker's DNS name, key in "
        "PKCS#8) from cert-manager into the Secret `<prefix>-kafka-tls`; clients trust its "
        "ca.crt.",
    )


class KafkaTlsValues(ChartSection):
    """TLS on every listener: where the brokers' certificates come from."""

    enabled: bool = Field(
        True,
        description="Encrypt every listener (clients: SASL_SSL; false: SASL_PLAINTEXT, e.g. "
        "to measure what TLS costs). By default the chart generates a CA (Secret "
        "`<prefix>-kafka-tls`, kept across upgrades) and each broker a certificate for its "
        "own DNS name from it at start.",
    )
    existing_secret: SecretName = Field(
        "",
        description="Bring your own certificates: a Secret with `tls.crt` (chain), "
        "`tls.key` (PKCS#8 PEM, unencrypted) and `ca.crt`, valid for every broker's DNS "
        "name (`*.<prefix>-kafka-headless.<namespace>.svc.<clusterDomain>`); set "
        "global.kafka.caSecret too.",
    )
    cert_manager: KafkaCertManager = Field(
        default_factory=KafkaCertManager, description="Certificates from cert-manager."
    )
    issuer_resources: Resources = Field(
        default_factory=lambda: resources("50m", "96Mi", "500m"),
        description="Resources of the init container that issues a broker's certificate "
        "from the chart's CA (`airlines kafka tls issue`).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> KafkaTlsValues:
        if self.existing_secret and self.cert_manager.enabled:
            raise ValueError(
                "certManager.enabled: not with existingSecret (one source of certificates)"
            )
        if self.cert_manager.enabled and not self.cert_manager.issuer_ref.name:
            raise ValueError("certManager.issuerRef.name: required with certManager.enabled")
        return self


def kafka_protocol(auth: bool, tls: bool) -> str:
    """The security.protocol of the chart's listeners."""
    return {
        (True, True): "SASL_SSL",
        (True, False): "SASL_PLAINTEXT",
        (False, True): "SSL",
        (False, False): "PLAINTEXT",
    }[(auth, tls)]


class KafkaValues(SubchartValues):
    """The Kafka brokers (ZooKeeper mode)."""

    replica_count: int = Field(3, ge=1, le=9, description="Brokers.")
    image: ImageValues = Field(
        default_factory=lambda: ImageValues(repository="apache/kafka", tag="3.9.1"),
        description="Official Apache Kafka image (3.9.x: the last line with ZooKeeper mode).",
    )
    heap: JvmMemory = Field("512m", description="JVM heap (-Xmx and -Xms).")
    jvm_options: JvmOptions = Field(
        "",
        description="More JVM flags for the broker (KAFKA_OPTS, after Kafka's own G1 "
        "settings). `-XX:TieredStopAtLevel=1` (quick compiler only) suits small clusters, "
        "where the CPU a JVM spends compiling at start-up counts more than its peak speed.",
    )
    resources: Resources = Field(
        default_factory=lambda: resources("250m", "1Gi", "2"), description="Resources."
    )
    persistence: Persistence = Field(
        default_factory=lambda: Persistence(size="8Gi"), description="Log volume."
    )
    pdb: Disruption = Field(default_factory=Disruption, description="Disruption budget.")
    scheduling: Scheduling = Field(default_factory=Scheduling, description="Placement.")
    default_replication_factor: int = Field(
        3, ge=1, le=9, description="default.replication.factor (also internal topics)."
    )
    min_insync_replicas: int = Field(2, ge=1, le=9, description="min.insync.replicas.")
    log_retention_hours: int = Field(24, ge=1, description="log.retention.hours.")
    auth: KafkaAuth = Field(default_factory=KafkaAuth, description="SCRAM authentication and ACLs.")
    tls: KafkaTlsValues = Field(default_factory=KafkaTlsValues, description="TLS.")
    topics_job: HookJob = Field(
        default_factory=HookJob,
        description="Hook Job: sets every principal's SCRAM credential and ACLs (`airlines "
        "kafka principals apply`, as the admin), then `airlines topics ensure` (regional + "
        "dead-letter topics, as the topics principal).",
    )
    stop_job: KafkaStopJob = Field(
        default_factory=KafkaStopJob,
        description="Pre-delete hook Job stopping the brokers while ZooKeeper still runs.",
    )

    @model_validator(mode="after")
    def _replication(self) -> KafkaValues:
        if not self.auth.enabled and not self.auth.allow_insecure:
            raise ValueError(
                "auth.enabled: false needs auth.allowInsecure: true (anyone who reaches the "
                "brokers could then write, read and delete every topic)"
            )
        if self.default_replication_factor > self.replica_count:
            raise ValueError(
                "defaultReplicationFactor: must not exceed replicaCount "
                f"({self.default_replication_factor} > {self.replica_count})"
            )
        if self.min_insync_replicas > self.default_replication_factor:
            raise ValueError(
                "minInsyncReplicas: must not exceed defaultReplicationFactor "
                f"({self.min_insync_replicas} > {self.default_replication_factor})"
            )
        return self


class RedisCertManager(CertManagerCertificate):
    """The nodes' certificate from cert-manager (a `Certificate`) instead of the chart's CA."""

    enabled: bool = Field(
        False,
        description="Request the nodes' certificate (every node's DNS name, server and "
        "client use) from cert-manager into the Secret `<prefix>-redis-tls`; clients trust "
        "its ca.crt.",
    )


class RedisTlsValues(ChartSection):
    """Where the nodes' certificates come from (with global.redis.tls.enabled)."""

    existing_secret: SecretName = Field(
        "",
        description="Bring your own certificates: a Secret with `tls.crt` (chain), "
        "`tls.key` (PEM, unencrypted) and `ca.crt`, valid for server and client use and "
        "every node's DNS name (`*.<prefix>-redis-cluster-headless.<namespace>.svc."
        "<clusterDomain>`); set global.redis.caSecret too (usually the same Secret).",
    )
    cert_manager: RedisCertManager = Field(
        default_factory=RedisCertManager, description="Certificates from cert-manager."
    )
    issuer_resources: Resources = Field(
        default_factory=lambda: resources("50m", "96Mi", "500m"),
        description="Resources of the init container that issues a node's certificate "
        "from the chart's CA.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> RedisTlsValues:
        if self.existing_secret and self.cert_manager.enabled:
            raise ValueError(
                "certManager.enabled: not with existingSecret (one source of certificates)"
            )
        if self.cert_manager.enabled and not self.cert_manager.issuer_ref.name:
            raise ValueError(
                "certManager.issuerRef.name: required with certManager.enabled (the issuer "
                "that signs the nodes' certificate)"
            )
        return self


class RedisClusterValues(SubchartValues):
    """The Redis Cluster (primaries and their replicas)."""

    replica_count: int = Field(6, ge=3, le=60, description="Redis nodes (pods) in total.")
    replicas_per_primary: int = Field(1, ge=0, le=5, description="Replicas of each primary.")
    image: ImageValues = Field(
        default_factory=lambda: ImageValues(repository="redis", tag="8.0.2"),
        description="Official Redis image (8.0.2 or later: CVE-2025-21605, CVE-2025-49844 fixed).",
    )
    max_memory: str = Field(
        "200mb",
        pattern=r"^[0-9]+(kb|mb|gb)$",
        description="maxmemory of each node (keep below the memory limit).",
    )
    resources: Resources = Field(
        default_factory=lambda: resources("100m", "256Mi", "1"), description="Resources."
    )
    persistence: Persistence = Field(
        default_factory=lambda: Persistence(size="1Gi"), description="AOF/nodes.conf volume."
    )
    pdb: Disruption = Field(default_factory=Disruption, description="Disruption budget.")
    scheduling: Scheduling = Field(default_factory=Scheduling, description="Placement.")
    tls: RedisTlsValues = Field(
        default_factory=RedisTlsValues,
        description="The nodes' certificates (TLS itself: global.redis.tls.enabled).",
    )
    bootstrap_job: HookJob = Field(
        default_factory=HookJob,
        description="Hook Job running `airlines redis bootstrap` as the admin user (re-runnable).",
    )

    @model_validator(mode="after")
    def _shape(self) -> RedisClusterValues:
        group = 1 + self.replicas_per_primary
        if self.replica_count % group or self.replica_count // group < 3:
            raise ValueError(
                f"replicaCount: must be a multiple of 1 + replicasPerPrimary ({group}) "
                f"with at least 3 primaries, got {self.replica_count}"
            )
        return self


class RbacValues(SubchartValues):
    """Service accounts and the Spark driver's Role."""

    service_account_annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Annotations of every service account (e.g. cloud IAM bindings).",
    )


class ProducersValues(SubchartValues):
    """One Deployment per regional flight simulator."""

    regions: list[Region] = Field(
        default_factory=lambda: list(Region),
        description="Regions to run a producer for; each needs a topic in global.config.topics.",
    )
    resources: Resources = Field(
        default_factory=lambda: resources("100m", "128Mi", "500m"), description="Resources."
    )
    termination_grace_period_seconds: int = Field(
        45, ge=35, le=600, description="Time to flush on SIGTERM (the producer waits up to 30 s)."
    )
    topic_wait: Duration = Field(
        timedelta(minutes=30),
        description="How long a starting producer waits for its topic (created by the "
        "post-install hook once every pod is up) before it exits and is restarted.",
    )
    metrics: MetricsEndpoint = Field(
        default_factory=producer_metrics, description="Each producer's /metrics."
    )
    scheduling: Scheduling = Field(default_factory=Scheduling, description="Placement.")

    @field_validator("regions")
    @classmethod
    def _unique(cls, value: list[Region]) -> list[Region]:
        if len(set(value)) != len(value):
            raise ValueError("regions must be unique")
        return value


#: Smallest driver heap that survives the job's per-batch code generation (measured: 512m
#: ran out of heap on the e2e cluster within three batches; 1g ran).
DRIVER_MIN_MEMORY_MIB = 1024


def jvm_memory_mib(value: str) -> int:
    """A JVM memory setting (``512m``, ``1g``) in MiB."""
    number, unit = int(value[:-1]), value[-1].lower()
    return number * 1024 if unit == "g" else number


class SparkDriver(ChartSection):
    """Spark driver pod."""

    cores: int = Field(1, ge=1, le=64, description="spark.driver.cores.")
    core_request: Quantity | None = Field(
        None,
        description="CPU request of the driver pod (spark.kubernetes.driver.request.cores); "
        "null for spark.driver.cores. Small clusters set less than a core.",
    )
    core_limit: Quantity = Field("1", description="CPU limit of the driver pod.")
    memory: JvmMemory = Field(
        "1g",
        description="spark.driver.memory, at least 1g: the driver generates each query's "
        "code for every micro-batch (about 0.9 MB of Java for the validation), and a 512m "
        "heap ran out on a real cluster.",
    )
    memory_overhead: JvmMemory = Field(
        "640m",
        description="Memory of the driver pod beyond the JVM heap "
        "(spark.driver.memoryOverhead): the JVM's own (metaspace, threads, buffers) and "
        "the Python process. Spark's default, "
        "40% of the heap but at least 384m, got small pods OOM-killed.",
    )

    @field_validator("memory")
    @classmethod
    def _enough_for_codegen(cls, value: str) -> str:
        if jvm_memory_mib(value) < DRIVER_MIN_MEMORY_MIB:
            raise ValueError(
                f"{value} is below 1g: the driver generates the job's code for every "
                "micro-batch and runs out of heap"
            )
        return value


class SparkExecutor(ChartSection):
    """Spark executor pods."""

    instances: int = Field(2, ge=1, le=100, description="Executors.")
    cores: int = Field(1, ge=1, le=64, description="spark.executor.cores.")
    core_request: Quantity | None = Field(
        None,
        description="CPU request of each executor pod "
        "(spark.kubernetes.executor.request.cores); null for spark.executor.cores.",
    )
    core_limit: Quantity = Field("1", description="CPU limit of each executor pod.")
    memory: JvmMemory = Field("1g", description="spark.executor.memory.")
    memory_overhead: JvmMemory = Field(
        "640m",
        description="Memory of each executor pod beyond the JVM heap "
        "(spark.executor.memoryOverhead): the JVM's own (metaspace, threads, buffers) and "
        "the Python process. Spark's default, "
        "40% of the heap but at least 384m, got small pods OOM-killed.",
    )


class Checkpoint(ChartSection):
    """The PersistentVolumeClaim holding the query checkpoint (state and offsets)."""

    enabled: bool = Field(True, description="Create and mount the checkpoint claim.")
    size: Quantity = Field("2Gi", description="Requested storage.")
    storage_class: str | None = Field(None, description="StorageClass; null for the default.")
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany"] = Field(
        "ReadWriteOnce",
        description="Driver and executors all mount it: ReadWriteMany on multi-node clusters.",
    )
    mount_path: str = Field(
        "/var/lib/airlines/checkpoints",
        pattern=r"^/[A-Za-z0-9._/-]*$",
        description="Where driver and executors mount it.",
    )


class SparkRestartPolicy(ChartSection):
    """The SparkApplication's restart policy (a streaming job restarts on failure)."""

    type: Literal["Always", "OnFailure", "Never"] = Field("Always", description="Policy type.")
    on_failure_retries: int = Field(10, ge=0, description="Retries after a failure.")
    on_failure_retry_interval: int = Field(30, ge=1, description="Seconds between retries.")
    on_submission_failure_retries: int = Field(5, ge=0, description="Submission retries.")
    on_submission_failure_retry_interval: int = Field(
        20, ge=1, description="Seconds between submission retries."
    )


class SparkApplyJob(ChartSection):
    """The hook Job that applies the SparkApplication (`airlines k8s apply-spark-app`).

    The SparkApplication is not a release object: the Spark Operator's admission webhook
    (failurePolicy Fail) must answer for it, and it cannot before its pod runs. This Job
    runs after install, upgrade and rollback, once the other hooks are done.
    """

    timeout: Duration = Field(
        timedelta(minutes=5),
        description="Keep retrying while the API server or the Spark Operator's webhook "
        "does not answer yet, up to this long; then the job fails with the last error.",
    )
    backoff_limit: int = Field(
        0,
        ge=0,
        le=10,
        description="New pods after a failed one (the command retries the API itself; a "
        "failed pod stays for `kubectl logs`).",
    )
    active_deadline_seconds: int = Field(
        600, ge=30, description="Give up after this long (seconds); longer than timeout."
    )
    resources: Resources = Field(
        default_factory=lambda: resources("50m", "128Mi", "500m"), description="Resources."
    )

    @model_validator(mode="after")
    def _deadline_covers_timeout(self) -> SparkApplyJob:
        check_deadline_covers_timeout(self.active_deadline_seconds, self.timeout)
        return self


class StreamingValues(SubchartValues):
    """The SparkApplication running `airlines stream`."""

    spark_version: str = Field(
        "4.2.0", pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$", description="Spark version of the image."
    )
    driver: SparkDriver = Field(default_factory=SparkDriver, description="Driver pod.")
    executor: SparkExecutor = Field(default_factory=SparkExecutor, description="Executor pods.")
    checkpoint: Checkpoint = Field(default_factory=Checkpoint, description="Checkpoint volume.")
    restart_policy: SparkRestartPolicy = Field(
        default_factory=SparkRestartPolicy, description="Restart policy."
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict, description="Extra Spark properties (sparkConf)."
    )
    metrics: MetricsEndpoint = Field(
        default_factory=job_metrics, description="The job's /metrics (on the driver)."
    )
    scheduling: Scheduling = Field(default_factory=Scheduling, description="Placement.")
    apply_job: SparkApplyJob = Field(
        default_factory=SparkApplyJob,
        description="Hook Job applying the SparkApplication once the Spark Operator's "
        "webhook answers (post-install, post-upgrade, post-rollback).",
    )


class TestsValues(ChartSection):
    """`helm test` pods running `airlines smoke`."""

    enabled: bool = Field(True, description="Render the helm test pods.")
    active_deadline_seconds: int = Field(
        300, ge=30, description="Fail the test pod after this long (seconds)."
    )
    resources: Resources = Field(
        default_factory=lambda: resources("100m", "256Mi", "500m"), description="Resources."
    )


class OperatorController(ChartSection):
    """The operator's controller: it runs spark-submit (a JVM) for each submission. The
    operator chart's other controller keys pass through unchecked."""

    model_config = ConfigDict(extra="allow")

    resources: Resources = Field(
        default_factory=lambda: resources("100m", "512Mi", "1"),
        description="Requests and limits of its container (spark-submit runs in it).",
    )


class OperatorWebhook(ChartSection):
    """The operator's admission webhook: it mutates the SparkApplication and the Spark pods.
    The operator chart's other webhook keys pass through unchecked."""

    model_config = ConfigDict(extra="allow")

    enable: bool = Field(True, description="Run the webhook (its failurePolicy is Fail).")
    resources: Resources = Field(
        default_factory=lambda: resources("50m", "128Mi", "500m"),
        description="Requests and limits of its container.",
    )


def _operator_spark_defaults() -> dict[str, Any]:
    return {
        "jobNamespaces": ["airlines"],
        "serviceAccount": {"create": False},
        "rbac": {"create": False},
    }


class SparkOperatorValues(ChartSection):
    """kubeflow's spark-operator chart: its own keys (not checked here) and the ones the
    bundle sets (checked)."""

    model_config = ConfigDict(extra="allow")

    enabled: bool = Field(
        True, description="Deploy the Spark Operator (the dependency's condition)."
    )
    spark: dict[str, Any] = Field(
        default_factory=_operator_spark_defaults,
        description="Spark jobs: jobNamespaces must include the release namespace; the "
        "bundle's rbac subchart brings the job's service account and Role.",
    )
    controller: OperatorController = Field(
        default_factory=OperatorController, description="The operator's controller."
    )
    webhook: OperatorWebhook = Field(
        default_factory=OperatorWebhook, description="The operator's admission webhook."
    )


class ChartValues(ChartSection):
    """Values of the `airlines-analytics` umbrella chart."""

    global_: GlobalValues = Field(
        default_factory=GlobalValues, alias="global", description="Release-wide facts."
    )
    zookeeper: ZookeeperValues = Field(default_factory=ZookeeperValues, description="ZooKeeper.")
    kafka: KafkaValues = Field(default_factory=KafkaValues, description="Kafka brokers.")
    redis_cluster: RedisClusterValues = Field(
        default_factory=RedisClusterValues, alias="redis-cluster", description="Redis Cluster."
    )
    rbac: RbacValues = Field(default_factory=RbacValues, description="RBAC.")
    producers: ProducersValues = Field(default_factory=ProducersValues, description="Producers.")
    streaming: StreamingValues = Field(
        default_factory=StreamingValues, description="Streaming job."
    )
    dashboard: DashboardValues = Field(
        default_factory=DashboardValues, description="Web dashboard."
    )
    tests: TestsValues = Field(default_factory=TestsValues, description="helm test pods.")
    spark_operator: SparkOperatorValues = Field(
        default_factory=SparkOperatorValues,
        alias="spark-operator",
        description="Values of kubeflow's spark-operator chart (its own keys; `enabled` is "
        "the dependency's condition). Its spark.jobNamespaces must include the release "
        "namespace. Its image takes no digest key: pin one through its tag, "
        "`image.tag: 2.4.0@sha256:<64 hex>`.",
    )
    airlines_common: dict[str, Any] | None = Field(
        None,
        alias="airlines-common",
        description="Library chart (helpers only); Helm adds this key.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ChartValues:
        for problem in self.problems():
            raise ValueError(problem)
        return self

    def problems(self) -> list[str]:
        """Rules across subcharts; the chart's ``validateValues`` template checks the same."""
        cfg = self.global_.config
        out: list[str] = []
        if self.kafka.enabled and cfg.kafka.bootstrap_servers:
            out.append(
                "global.config.kafka.bootstrapServers: must be empty when kafka.enabled is "
                "true (the chart fills in its own brokers)"
            )
        if not self.kafka.enabled and not cfg.kafka.bootstrap_servers:
            out.append("global.config.kafka.bootstrapServers: required when kafka.enabled is false")
        if self.redis_cluster.enabled and cfg.redis.nodes:
            out.append(
                "global.config.redis.nodes: must be empty when redis-cluster.enabled is "
                "true (the chart fills in its own nodes)"
            )
        if not self.redis_cluster.enabled and not cfg.redis.nodes:
            out.append("global.config.redis.nodes: required when redis-cluster.enabled is false")
        if self.redis_cluster.enabled and (
            cfg.redis.ack_replicas > self.redis_cluster.replicas_per_primary
        ):
            out.append(
                f"global.config.redis.ackReplicas: {cfg.redis.ack_replicas} exceeds "
                f"redis-cluster.replicasPerPrimary ({self.redis_cluster.replicas_per_primary}): "
                "no write could ever be confirmed"
            )
        if self.kafka.enabled:
            brokers = self.kafka.replica_count
            factors = [(f"topics[{i}]", t.replication_factor) for i, t in enumerate(cfg.topics)]
            factors.append(("deadLetter", cfg.dead_letter.replication_factor))
            out.extend(
                f"global.config.{path}.replicationFactor: {factor} exceeds "
                f"kafka.replicaCount ({brokers})"
                for path, factor in factors
                if factor > brokers
            )
        if self.producers.enabled:
            have = {t.region for t in cfg.topics}
            for i, region in enumerate(self.producers.regions):
                if region not in have:
                    out.append(
                        f"producers.regions[{i}]: no topic in global.config.topics "
                        f"has region {region.value!r}"
                    )
        auth = self.global_.redis.auth
        if auth.enabled and not self.redis_cluster.enabled and not auth.existing_secret:
            out.append(
                "global.redis.auth.existingSecret: required when redis-cluster.enabled is "
                "false and auth is enabled (name the Secret holding the external cluster's "
                "password)"
            )
        if not auth.enabled and not auth.allow_insecure:
            out.append(
                "global.redis.auth.enabled: false needs global.redis.auth.allowInsecure: true "
                "(anyone who reaches Redis could then read, overwrite and flush everything)"
            )
        if self.redis_cluster.enabled and auth.existing_secret:
            out.append(
                "global.redis.auth.existingSecret: only with redis-cluster.enabled false (the "
                "chart's Redis has an ACL user, and a Secret, per kind of client: "
                "global.redis.userSecrets)"
            )
        if self.global_.config.redis.tls is not None:
            out.append(
                "global.config.redis.tls: must be null (the chart sets it from "
                "global.redis.tls for every client)"
            )
        if (
            self.global_.redis.tls.enabled
            and not self.global_.redis.ca_secret
            and (not self.redis_cluster.enabled or self.redis_cluster.tls.existing_secret)
        ):
            out.append(
                "global.redis.caSecret: required with global.redis.tls.enabled and an "
                "external Redis or redis-cluster.tls.existingSecret (the Secret whose ca.crt "
                "the clients trust)"
            )
        out.extend(self.kafka_security_problems())
        if self.streaming.enabled and self.streaming.checkpoint.enabled:
            location = cfg.streaming.checkpoint_location
            mount = self.streaming.checkpoint.mount_path.rstrip("/") + "/"
            if "://" not in location and not location.startswith(mount):
                out.append(
                    f"global.config.streaming.checkpointLocation: {location!r} is not on the "
                    f"checkpoint volume (streaming.checkpoint.mountPath {mount!r}) nor a URI"
                )
        return out

    def kafka_security_problems(self) -> list[str]:
        """The clients' kafka.security against the brokers' kafka.auth and kafka.tls, and
        the files every pod mounts (the chart's ``validateValues`` checks the same)."""
        security = self.global_.config.kafka.security
        where = "global.config.kafka.security"
        out: list[str] = []
        if self.kafka.enabled:
            auth, tls = self.kafka.auth.enabled, self.kafka.tls.enabled
            want = kafka_protocol(auth, tls)
            if security.protocol != want:
                out.append(
                    f"{where}.protocol: {security.protocol} does not match the chart's "
                    f"brokers (kafka.auth.enabled {str(auth).lower()}, kafka.tls.enabled "
                    f"{str(tls).lower()}): set {want}"
                )
            if self.global_.kafka.existing_secret:
                out.append(
                    "global.kafka.existingSecret: only with kafka.enabled false (the chart's "
                    "Kafka has a principal, and a Secret, per component)"
                )
        sasl = security.sasl
        if sasl is not None:
            if self.kafka.enabled and sasl.mechanism != KAFKA_MECHANISM:
                out.append(
                    f"{where}.sasl.mechanism: the chart's brokers take {KAFKA_MECHANISM}, "
                    f"not {sasl.mechanism}"
                )
            if self.kafka.enabled and sasl.username_file is None:
                out.append(
                    f"{where}.sasl.usernameFile: required with the chart's Kafka "
                    f"({KAFKA_USERNAME_FILE}: each component is its own principal)"
                )
            if sasl.username_file is not None and sasl.username_file != KAFKA_USERNAME_FILE:
                out.append(
                    f"{where}.sasl.usernameFile: must be {KAFKA_USERNAME_FILE} (where each "
                    "pod mounts its credentials)"
                )
            if sasl.password_file != KAFKA_PASSWORD_FILE:
                out.append(
                    f"{where}.sasl.passwordFile: must be {KAFKA_PASSWORD_FILE} (where each "
                    "pod mounts its credentials; never the password itself)"
                )
            if not self.kafka.enabled and not self.global_.kafka.existing_secret:
                out.append(
                    "global.kafka.existingSecret: required when kafka.enabled is false and "
                    f"{where} uses SASL (name the Secret with the username and password)"
                )
        if security.tls is not None:
            if self.kafka.enabled and security.tls.ca_file != KAFKA_CA_FILE:
                out.append(
                    f"{where}.tls.caFile: must be {KAFKA_CA_FILE} with the chart's Kafka "
                    "(where each pod mounts the brokers' CA)"
                )
            if (
                not self.kafka.enabled
                and security.tls.ca_file == KAFKA_CA_FILE
                and not (self.global_.kafka.ca_secret or self.global_.kafka.existing_secret)
            ):
                out.append(
                    "global.kafka.caSecret: required when kafka.enabled is false and "
                    f"{where}.tls.caFile is {KAFKA_CA_FILE} (name the Secret with its ca.crt)"
                )
            if security.tls.cert_file is not None:
                out.append(
                    f"{where}.tls.certFile: client certificates are not mounted by the chart"
                )
        brokers_tls = self.kafka.tls
        if (
            self.kafka.enabled
            and brokers_tls.enabled
            and brokers_tls.existing_secret
            and not self.global_.kafka.ca_secret
        ):
            out.append(
                "global.kafka.caSecret: required with kafka.tls.existingSecret (the Secret "
                "whose ca.crt signed the brokers' certificates, usually the same one)"
            )
        return out

    # --- what the chart renders -----------------------------------------------------------

    def prefix(self, release: str) -> str:
        """Release-wide name prefix (``airlines.prefix`` in the library chart)."""
        return (self.global_.fullname_override or release)[:PREFIX_MAX].rstrip("-")

    def pod_hosts(self, release: str, namespace: str, component: str, count: int) -> list[str]:
        """Stable DNS names of a StatefulSet's pods through its headless Service."""
        name = f"{self.prefix(release)}-{component}"
        domain = self.global_.cluster_domain
        return [f"{name}-{i}.{name}-headless.{namespace}.svc.{domain}" for i in range(count)]

    def app_config(self, release: str, namespace: str) -> AppConfig:
        """The config the chart's ConfigMap carries (``airlines.appConfig`` template)."""
        return AppConfig.model_validate(self._app_config_data(release, namespace))

    def redis_client_config(self, release: str, namespace: str, user: str) -> ChartAppConfig:
        """The config a client of the chart's Redis mounts as its ACL user ``user``
        (``airlines-analytics.redisUserConfig``): its user name, the password file its pod
        mounts and, with TLS, the CA. A ChartAppConfig: its redis.tls stands for the
        programs' own until they read it."""
        data = self._app_config_data(release, namespace)
        auth = self.global_.redis.auth
        if auth.enabled and not auth.existing_secret:
            data["redis"].update(username=user, passwordEnv=None, passwordFile=REDIS_PASSWORD_FILE)
        if self.global_.redis.tls.enabled:
            data["redis"]["tls"] = {"caFile": REDIS_CA_FILE, "certFile": None, "keyFile": None}
        return ChartAppConfig.model_validate(data)

    def _app_config_data(self, release: str, namespace: str) -> dict[str, Any]:
        data = self.global_.config.model_dump(mode="json", by_alias=True)
        if self.kafka.enabled:
            hosts = self.pod_hosts(release, namespace, "kafka", self.kafka.replica_count)
            data["kafka"]["bootstrapServers"] = [f"{h}:{KAFKA_PORT}" for h in hosts]
        if self.redis_cluster.enabled:
            hosts = self.pod_hosts(
                release, namespace, "redis-cluster", self.redis_cluster.replica_count
            )
            data["redis"]["nodes"] = [f"{h}:{REDIS_PORT}" for h in hosts]
        if not self.global_.redis.auth.enabled:
            data["redis"]["passwordEnv"] = None
            data["redis"]["passwordFile"] = None
        if data["redis"].get("tls") is None:
            data["redis"].pop("tls", None)
        return data


def coalesce(defaults: Any, overrides: Any) -> Any:
    """Helm's merge of a values file over the chart's defaults.

    Mappings merge key by key, anything else (lists included) replaces, and ``null``
    removes a default key.
    """
    if not isinstance(defaults, dict) or not isinstance(overrides, dict):
        return overrides
    merged = dict(defaults)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = value
    return merged


def values_with_defaults(overrides: dict[str, Any]) -> dict[str, Any]:
    """A values file as Helm sees it: merged over the chart's defaults (values.yaml)."""
    merged: dict[str, Any] = coalesce(values_document(), overrides)
    return merged


def chart_values_schema() -> dict[str, Any]:
    """The chart's ``values.schema.json`` document."""
    schema = ChartValues.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "Generated from airlines.config.chart.ChartValues by "
        "`airlines values schema`; do not edit.",
        **schema,
    }


def secret_like_keys(data: Any, path: str = "") -> list[str]:
    """Keys of a values document that look like they carry a secret value.

    ``password: ...``, ``redisPassword: ...``, ``token: ...`` and the like; names of Secrets,
    keys and environment variables (``existingSecret``, ``passwordEnv``...) are fine. The
    models reject unknown keys anyway; this covers the open parts (``global``,
    ``spark-operator``).
    """
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            name = str(key).lower()
            if name in {"secret", "token", "apikey", "api_key"} or name.endswith(
                ("password", "passwd")
            ):
                found.append(where)
            found.extend(secret_like_keys(value, where))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found.extend(secret_like_keys(item, f"{path}[{i}]"))
    return found


# --- generated documents: values.yaml and the parameter table ---------------------------------

#: Keys Helm adds to values (copies of ``global``, the library chart); not chart parameters.
_HELM_ADDED = {"global_", "airlines_common"}


def _fields(model: type[BaseModel]) -> list[tuple[str, Any]]:
    """(key as written in values files, FieldInfo) of the parameters of a model."""
    out = []
    for name, info in model.model_fields.items():
        if name in _HELM_ADDED and model is not ChartValues:
            continue
        if name == "airlines_common":
            continue
        out.append((info.alias or name, info))
    return out


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    args = getattr(annotation, "__args__", ())
    if getattr(annotation, "__origin__", None) is list and args:
        return _nested_model(args[0])
    return None


def values_document(values: ChartValues | None = None) -> dict[str, Any]:
    """The values as a values file writes them (defaults when ``values`` is None)."""
    values = values or ChartValues()
    data: dict[str, Any] = values.model_dump(mode="json", by_alias=True)
    data.pop("airlines-common", None)
    for section in data.values():
        if (
            isinstance(section, dict)
            and section is not data["global"]
            and not section.get("global")
        ):
            section.pop("global", None)
    return data


def _scalar(value: Any) -> str:
    import json

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        if (
            value == ""
            or not re.fullmatch(r"[A-Za-z_/][A-Za-z0-9_./-]*", value)
            or value
            in {
                "true",
                "false",
                "null",
                "yes",
                "no",
                "on",
                "off",
            }
        ):
            return json.dumps(value)
        return value
    raise TypeError(value)


def _emit(value: Any, indent: int, lines: list[str], key: str | None) -> None:
    pad = "  " * indent
    head = f"{pad}{key}:" if key is not None else None
    if isinstance(value, dict) and value:
        if head:
            lines.append(head)
        for k, v in value.items():
            _emit(v, indent + (1 if head else 0), lines, _key(k))
    elif isinstance(value, list) and value:
        if head:
            lines.append(head)
        item_pad = "  " * (indent + (1 if head else 0))
        for item in value:
            if isinstance(item, dict) and item:
                sub: list[str] = []
                _emit(item, 0, sub, None)
                lines.append(f"{item_pad}- {sub[0]}")
                lines.extend(f"{item_pad}  {line}" for line in sub[1:])
            else:
                lines.append(f"{item_pad}- {_scalar(item)}")
    else:
        empty = "{}" if isinstance(value, dict) else "[]" if isinstance(value, list) else None
        text = empty if empty is not None else _scalar(value)
        lines.append(f"{head} {text}" if head else f"{pad}{text}")


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key) else f'"{key}"'


def _emit_model(
    model: type[BaseModel], data: dict[str, Any], indent: int, lines: list[str]
) -> None:
    pad = "  " * indent
    for key, info in _fields(model):
        if key not in data:
            continue
        value = data[key]
        if info.description:
            lines.append(f"{pad}# -- {info.description}")
        nested = _nested_model(info.annotation)
        if nested is not None and isinstance(value, dict):
            lines.append(f"{pad}{_key(key)}:")
            _emit_model(nested, value, indent + 1, lines)
        else:
            _emit(value, indent, lines, _key(key))


VALUES_HEADER = """\
# Default values of the airlines-analytics chart bundle.
#
# GENERATED from the pydantic models in src/airlines/config/chart.py by
# `airlines values generate`; do not edit by hand (a test fails when it drifts).
# Per-environment overrides live in values/ at the repository root; check one with
# `airlines values validate values/minikube.yaml`.
"""


def render_values_yaml() -> str:
    """The umbrella chart's ``values.yaml``: every default, with its description."""
    lines: list[str] = []
    data = values_document()
    for key, info in _fields(ChartValues):
        if key not in data:
            continue
        lines.append("")
        lines.append(f"# -- {info.description}")
        nested = _nested_model(info.annotation)
        if nested is not None:
            lines.append(f"{_key(key)}:")
            _emit_model(nested, data[key], 1, lines)
        else:
            _emit(data[key], 0, lines, _key(key))
    return VALUES_HEADER + "\n".join(lines) + "\n"


def _schema_type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return _schema_type(defs[prop["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in prop:
        return " or ".join(dict.fromkeys(_schema_type(p, defs) for p in prop["anyOf"]))
    if "enum" in prop:
        return " or ".join(f"`{v}`" for v in prop["enum"])
    kind = prop.get("type", "object")
    if kind == "array":
        return f"list of {_schema_type(prop.get('items', {}), defs)}"
    if kind == "string" and "pattern" in prop and prop["pattern"].endswith("(ms|s|m|h|d)$"):
        return "duration"
    return str(kind)


def _default_text(value: Any) -> str:
    import json

    text = json.dumps(value, separators=(",", ":"))
    if len(text) > 60:
        text = text[:57] + "..."
    return f"`{text}`"


def _table_rows(
    model: type[BaseModel],
    data: dict[str, Any],
    prefix: str,
    rows: list[str],
    defs: dict[str, Any],
) -> None:
    schema = defs.get(model.__name__) or ChartValues.model_json_schema(by_alias=True)
    for key, info in _fields(model):
        if key not in data:
            continue
        path = f"{prefix}{key}"
        nested = _nested_model(info.annotation)
        if nested is not None and isinstance(data[key], dict):
            _table_rows(nested, data[key], f"{path}.", rows, defs)
            continue
        item = _list_item_model(info.annotation)
        prop = schema["properties"][key]
        kind = "list" if item is not None else _schema_type(prop, defs)
        desc = (info.description or "").replace("|", "\\|")
        rows.append(f"| `{path}` | {kind} | {_default_text(data[key])} | {desc} |")
        if item is not None:
            item_schema = defs[item.__name__]
            for sub_key, sub_info in _fields(item):
                sub_kind = _schema_type(item_schema["properties"][sub_key], defs)
                default = (
                    "required"
                    if sub_info.is_required()
                    else _default_text(item_schema["properties"][sub_key].get("default"))
                )
                sub_desc = (sub_info.description or "").replace("|", "\\|")
                rows.append(f"| `{path}[].{sub_key}` | {sub_kind} | {default} | {sub_desc} |")


def parameter_table() -> str:
    """Markdown table of every chart parameter (helm-docs style)."""
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    defs = ChartValues.model_json_schema(by_alias=True, mode="validation")["$defs"]
    _table_rows(ChartValues, values_document(), "", rows, defs)
    return "\n".join(rows)
