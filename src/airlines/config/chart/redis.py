"""``redis-cluster``: the Redis Cluster's nodes, their certificates and bootstrap Job."""

from __future__ import annotations

from pydantic import Field, model_validator

from airlines.config.chart.blocks import (
    CertManagerCertificate,
    ChartSection,
    Disruption,
    HookJob,
    ImageValues,
    Persistence,
    Resources,
    Scheduling,
    SecretName,
    SubchartValues,
    resources,
)


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
