"""``global``: release-wide facts Helm hands to every subchart (names, images, the Kafka
and Redis credentials and CAs, NetworkPolicies, monitoring, the runtime config)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from airlines.config.chart.app_config import ChartAppConfig
from airlines.config.chart.blocks import ChartSection, Cidr, DnsName, ImageValues, Port, SecretName
from airlines.config.chart.conventions import (
    PREFIX_MAX,
    PRINCIPAL_PATTERN,
    REDIS_CA_FILE,
    REDIS_USERS,
)
from airlines.config.chart.dashboard import MonitoringValues


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
