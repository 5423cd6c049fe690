"""Walking rendered manifests: pod specs, containers, references between objects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]

WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet"}


@dataclass(frozen=True)
class PodSpec:
    """A pod spec found in a render, with where it came from."""

    where: str
    spec: Doc
    labels: dict[str, str]
    # SparkApplication driver/executor specs use the operator's field names.
    spark: bool = False
    # Volumes a StatefulSet adds from its volumeClaimTemplates.
    claim_templates: frozenset[str] = frozenset()


def by_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d.get("kind") == kind]


def names(docs: list[Doc], kind: str) -> set[str]:
    return {d["metadata"]["name"] for d in by_kind(docs, kind)}


def pod_specs(docs: list[Doc]) -> Iterator[PodSpec]:
    for doc in docs:
        kind, name = doc.get("kind"), doc["metadata"]["name"]
        if kind in WORKLOADS:
            template = doc["spec"]["template"]
            claims = frozenset(
                c["metadata"]["name"] for c in doc["spec"].get("volumeClaimTemplates", [])
            )
            yield PodSpec(
                f"{kind}/{name}",
                template["spec"],
                template["metadata"].get("labels", {}),
                claim_templates=claims,
            )
        elif kind == "Pod":
            yield PodSpec(f"Pod/{name}", doc["spec"], doc["metadata"].get("labels", {}))
        elif kind == "SparkApplication":
            for role in ("driver", "executor"):
                part = doc["spec"][role]
                yield PodSpec(f"{kind}/{name}/{role}", part, part.get("labels", {}), spark=True)


def containers(pod: PodSpec) -> list[Doc]:
    if pod.spark:
        return [pod.spec]
    return [*pod.spec.get("initContainers", []), *pod.spec["containers"]]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())
