"""``kafka``: the brokers (ZooKeeper mode), their SCRAM users and TLS, and their hook Jobs."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from airlines.config.chart.blocks import (
    CertManagerCertificate,
    ChartSection,
    Disruption,
    HookJob,
    ImageValues,
    JvmMemory,
    JvmOptions,
    Persistence,
    Resources,
    Scheduling,
    SecretName,
    SubchartValues,
    check_deadline_covers_timeout,
    resources,
)
from airlines.config.types import Duration


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
