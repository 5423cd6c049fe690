"""Walking rendered manifests: pod specs, containers, references between objects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

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


#: The key of the ConfigMap that carries the SparkApplication's manifest (the streaming
#: subchart's hook applies it; it is not a release object).
SPARK_APPLICATION_KEY = "sparkapplication.yaml"


def with_carried(docs: list[Doc]) -> list[Doc]:
    """The rendered objects plus the SparkApplications their ConfigMaps carry.

    Checks that hold for whatever the cluster ends up running (API models, references,
    security, resources) see the SparkApplication as the hook applies it.
    """
    carried = [
        yaml.safe_load(doc["data"][SPARK_APPLICATION_KEY])
        for doc in by_kind(docs, "ConfigMap")
        if SPARK_APPLICATION_KEY in (doc.get("data") or {})
    ]
    return [*docs, *carried]


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


# --- resources ------------------------------------------------------------------------------

#: Keys whose value is a list of containers, wherever they appear in an object (pod specs,
#: pod templates, job templates of CronJobs, a SparkApplication's driver/executor sidecars).
CONTAINER_LISTS = ("initContainers", "containers", "sidecars")
#: What a SparkApplication's driver and executor need for their pods' requests and limits:
#: cores -> CPU request, coreLimit -> CPU limit, memory (+ overhead) -> memory request and
#: limit (Spark on Kubernetes sets both).
SPARK_POD_SIZING = ("cores", "coreLimit", "memory")


def _container_lists(node: Any, path: str) -> Iterator[tuple[str, Doc]]:
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if key in CONTAINER_LISTS and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        yield f"{where}[{item.get('name', '?')}]", item
            else:
                yield from _container_lists(value, where)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _container_lists(item, f"{path}[{i}]")


def resource_problems(docs: list[Doc]) -> list[str]:
    """Every container of every object without CPU and memory requests and limits, and
    every SparkApplication driver/executor without cores, coreLimit and memory, each named
    as ``Kind/name: path``."""
    problems = []
    for doc in docs:
        obj = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        for where, container in _container_lists(doc, ""):
            resources = container.get("resources") or {}
            for kind in ("requests", "limits"):
                missing = {"cpu", "memory"} - set(resources.get(kind) or {})
                if missing:
                    problems.append(
                        f"{obj}: container {where.lstrip('.')}: no {kind} for "
                        f"{', '.join(sorted(missing))}"
                    )
        if doc.get("kind") == "SparkApplication":
            for role in ("driver", "executor"):
                part = doc.get("spec", {}).get(role) or {}
                missing_sizing = [key for key in SPARK_POD_SIZING if part.get(key) is None]
                if missing_sizing:
                    problems.append(f"{obj}: {role}: no {', '.join(missing_sizing)}")
    return problems
