"""Building blocks of the chart's values models: images, resources, disruption budgets,
placement, hook jobs, cert-manager certificates, the base of every subchart's values.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema, field_validator

from airlines.config.models import Section

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$"
_JVM_MEMORY = r"^[0-9]+[mMgG]$"
_JVM_OPTIONS = r"^(-\S+( -\S+)*)?$"


def _quantity_to_str(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return format(value, "g")
    return value


Quantity = Annotated[
    str,
    BeforeValidator(_quantity_to_str),
    Field(pattern=_QUANTITY),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _QUANTITY},
                {"type": "number", "minimum": 0},
            ],
            "examples": ["500m", "1Gi", 2],
        }
    ),
]
"""A Kubernetes resource quantity: ``500m``, ``2``, ``1Gi``."""

JvmMemory = Annotated[
    str,
    Field(pattern=_JVM_MEMORY, examples=["512m", "1g"]),
]
"""A JVM / Spark memory size: ``512m``, ``2g``."""


def _jvm_flags(value: str) -> str:
    flags = value.split()
    if value != " ".join(flags):
        raise ValueError("separate JVM flags by single spaces, with none around them")
    not_flags = [flag for flag in flags if not flag.startswith("-")]
    if not_flags:
        raise ValueError(f"{' '.join(not_flags)}: each JVM flag starts with '-'")
    heap = [flag for flag in flags if flag.startswith(("-Xmx", "-Xms"))]
    if heap:
        raise ValueError(f"{' '.join(heap)}: the heap is set by `heap`, not here")
    return value


JvmOptions = Annotated[
    str,
    AfterValidator(_jvm_flags),
    WithJsonSchema(
        {"type": "string", "pattern": _JVM_OPTIONS, "examples": ["-XX:TieredStopAtLevel=1"]}
    ),
]
"""JVM flags separated by single spaces, each starting with ``-``; the heap excluded."""

DnsName = Annotated[str, Field(pattern=_DNS_LABEL, max_length=63)]

#: The name of a Secret (a DNS subdomain), or empty for none.
SecretName = Annotated[str, Field(pattern=r"^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)]


class ChartSection(Section):
    """Base of every values object: camelCase keys, unknown keys rejected (as config)."""


# --- building blocks ------------------------------------------------------------------------


#: An image's content digest, as registries report it (empty: none).
DIGEST_PATTERN = r"^$|^sha256:[a-f0-9]{64}$"


class ImageValues(ChartSection):
    """A container image: pinned tag (never ``latest``), optional digest."""

    registry: str = Field(
        "",
        pattern=r"^$|^[a-zA-Z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$",
        description="Registry host; empty for global.imageRegistry, else Docker Hub.",
    )
    repository: str = Field(
        pattern=r"^[a-z0-9]+([._/-][a-z0-9]+)*$", description="Image repository."
    )
    tag: str = Field(
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
        description="Image tag; pinned, never 'latest'.",
        json_schema_extra={"not": {"const": "latest"}},
    )
    digest: str = Field(
        "",
        description="Optional content digest (sha256:<64 hex>); when set, the image is "
        "pulled as repository@digest and the tag is only documentation.",
        json_schema_extra={"pattern": DIGEST_PATTERN},
    )
    pull_policy: Literal["IfNotPresent", "Always", "Never"] = Field(
        "IfNotPresent", description="Image pull policy."
    )

    @field_validator("tag")
    @classmethod
    def _not_latest(cls, value: str) -> str:
        if value == "latest":
            raise ValueError("'latest' is not allowed: pin a version")
        return value

    @field_validator("digest")
    @classmethod
    def _a_sha256_digest(cls, value: str) -> str:
        if not re.fullmatch(DIGEST_PATTERN, value):
            raise ValueError(
                f"{value!r} is not an image digest: 'sha256:' and 64 lowercase hex digits, "
                "as the registry reports it (or empty)"
            )
        return value


class ResourceQuantities(ChartSection):
    """CPU and memory amounts."""

    cpu: Quantity | None = Field(None, description="CPU (cores or millicores, e.g. 500m).")
    memory: Quantity | None = Field(None, description="Memory (e.g. 512Mi, 2Gi).")


class Resources(ChartSection):
    """Container resource requests and limits."""

    requests: ResourceQuantities = Field(
        default_factory=ResourceQuantities, description="Guaranteed resources."
    )
    limits: ResourceQuantities = Field(
        default_factory=ResourceQuantities, description="Upper bounds."
    )


def resources(cpu: str, memory: str, cpu_limit: str) -> Resources:
    """Requests and limits (the memory limit equals the request)."""
    return Resources(
        requests=ResourceQuantities(cpu=cpu, memory=memory),
        limits=ResourceQuantities(cpu=cpu_limit, memory=memory),
    )


class Persistence(ChartSection):
    """A PersistentVolumeClaim per pod (StatefulSets) or for the job."""

    enabled: bool = Field(True, description="Use a PersistentVolumeClaim; else an emptyDir.")
    size: Quantity = Field("1Gi", description="Requested storage.")
    storage_class: str | None = Field(
        None, description="StorageClass; null for the cluster default, '-' for none."
    )


class Disruption(ChartSection):
    """PodDisruptionBudget."""

    enabled: bool = Field(True, description="Create a PodDisruptionBudget.")
    max_unavailable: int = Field(1, ge=0, description="Pods that may be down voluntarily.")


class Scheduling(ChartSection):
    """Pod placement (free-form Kubernetes objects)."""

    node_selector: dict[str, str] = Field(default_factory=dict, description="Node selector.")
    tolerations: list[dict[str, Any]] = Field(default_factory=list, description="Tolerations.")
    affinity: dict[str, Any] = Field(default_factory=dict, description="Affinity rules.")


class HookJob(ChartSection):
    """A Helm hook Job running one idempotent ``airlines`` command."""

    enabled: bool = Field(True, description="Run the job on install and upgrade.")
    backoff_limit: int = Field(
        6, ge=0, le=100, description="Retries (the command waits for the service itself)."
    )
    active_deadline_seconds: int = Field(
        600, ge=30, description="Give up after this long (seconds)."
    )
    resources: Resources = Field(
        default_factory=lambda: resources("50m", "128Mi", "500m"), description="Resources."
    )


def check_deadline_covers_timeout(active_deadline_seconds: int, timeout: timedelta) -> None:
    """A hook Job whose command waits up to ``timeout`` must outlive it, or Kubernetes
    kills it before it can say why it gave up."""
    if active_deadline_seconds <= timeout.total_seconds():
        raise ValueError(
            f"activeDeadlineSeconds: must be longer than timeout "
            f"({active_deadline_seconds}s <= {timeout.total_seconds():g}s), or "
            "Kubernetes kills the job before it can report why it gave up"
        )


class SubchartValues(ChartSection):
    """Common to every subchart key: ``enabled`` is the dependency's condition."""

    enabled: bool = Field(True, description="Deploy this part of the system.")
    global_: dict[str, Any] | None = Field(
        None,
        alias="global",
        description="Copied from the top-level `global` by Helm; set values there instead.",
    )


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR such as 10.96.0.1/32: {exc}") from None
    return value


Cidr = Annotated[
    str,
    Field(pattern=r"^[0-9a-fA-F.:]+/[0-9]{1,3}$", examples=["192.168.49.2/32"]),
    AfterValidator(_cidr),
]
"""An IPv4 or IPv6 network: ``10.96.0.1/32``."""

Port = Annotated[int, Field(ge=1, le=65535)]


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
