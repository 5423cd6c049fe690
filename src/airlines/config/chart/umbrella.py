"""The umbrella chart's values (:class:`ChartValues`): one key per subchart, the rules
that span several of them, and what the chart renders from them (names, the runtime
config). The chart's ``validateValues`` template checks the same rules."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from airlines.config.chart.app_config import ChartAppConfig
from airlines.config.chart.blocks import ChartSection, Resources, resources
from airlines.config.chart.conventions import (
    KAFKA_CA_FILE,
    KAFKA_MECHANISM,
    KAFKA_PASSWORD_FILE,
    KAFKA_PORT,
    KAFKA_USERNAME_FILE,
    PREFIX_MAX,
    REDIS_CA_FILE,
    REDIS_PASSWORD_FILE,
    REDIS_PORT,
)
from airlines.config.chart.dashboard import DashboardValues
from airlines.config.chart.global_values import GlobalValues
from airlines.config.chart.kafka import KafkaValues, kafka_protocol
from airlines.config.chart.producers import ProducersValues
from airlines.config.chart.rbac import RbacValues
from airlines.config.chart.redis import RedisClusterValues
from airlines.config.chart.spark_operator import SparkOperatorValues
from airlines.config.chart.streaming import StreamingValues
from airlines.config.chart.zookeeper import ZookeeperValues
from airlines.config.models import AppConfig


class TestsValues(ChartSection):
    """`helm test` pods running `airlines smoke`."""

    enabled: bool = Field(True, description="Render the helm test pods.")
    active_deadline_seconds: int = Field(
        300, ge=30, description="Fail the test pod after this long (seconds)."
    )
    resources: Resources = Field(
        default_factory=lambda: resources("100m", "256Mi", "500m"), description="Resources."
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
