"""The SparkApplication manifest: reading it, owning it, telling what an apply changed."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Literal

import yaml

SPARK_API_VERSION = "sparkoperator.k8s.io/v1beta2"
SPARK_KIND = "SparkApplication"

#: A Kubernetes object name (DNS-1123 subdomain).
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")

Outcome = Literal["created", "configured", "unchanged"]

#: Fields the server sets or keeps changing, which say nothing about what an apply did.
_VOLATILE_METADATA = (
    "resourceVersion",
    "managedFields",
    "generation",
    "uid",
    "creationTimestamp",
)


class ManifestError(ValueError):
    """The manifest file is not one SparkApplication that can be applied."""


def check_name(value: str, what: str) -> str:
    """``value`` if it is a valid object name, else a :class:`ManifestError` naming ``what``."""
    if not _NAME.match(value):
        raise ManifestError(
            f"{what}: {value!r} is not a Kubernetes object name "
            "(lower-case letters, digits, '-' and '.', at most 253 characters)"
        )
    return value


def parse_spark_application(text: str, source: str) -> dict[str, Any]:
    """The one SparkApplication in ``text``; :class:`ManifestError` naming the problem."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(f"{source}: not valid YAML: {exc}") from None
    if len(documents) != 1:
        raise ManifestError(f"{source}: expected one YAML document, found {len(documents)}")
    (manifest,) = documents
    if not isinstance(manifest, dict):
        raise ManifestError(f"{source}: expected a mapping, got {type(manifest).__name__}")
    api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
    if (api_version, kind) != (SPARK_API_VERSION, SPARK_KIND):
        raise ManifestError(
            f"{source}: apiVersion/kind: expected {SPARK_API_VERSION} {SPARK_KIND}, "
            f"got {api_version} {kind}"
        )
    metadata = manifest.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        raise ManifestError(f"{source}: metadata.name: required")
    check_name(metadata["name"], f"{source}: metadata.name")
    namespace = metadata.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise ManifestError(f"{source}: metadata.namespace: expected a string")
    if not isinstance(manifest.get("spec"), dict):
        raise ManifestError(f"{source}: spec: required")
    return manifest


def load_spark_application(path: Path) -> dict[str, Any]:
    """Read and check a SparkApplication manifest file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_spark_application(text, str(path))


def owner_reference(name: str, uid: str) -> dict[str, Any]:
    """An owner reference to a ConfigMap of the same namespace.

    Not a controller reference, and no ``blockOwnerDeletion`` (which needs permission on
    the owner's finalizers where that admission plugin is on): the garbage collector
    deletes the dependent in the background once the owner is gone.
    """
    if not uid:
        raise ValueError(f"ConfigMap {name} has no uid")
    return {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": uid}


def with_owner(manifest: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``manifest`` owned by ``owner``.

    Other owner references are kept, except earlier ones to a ConfigMap of the same name
    (a ConfigMap recreated with a new uid, e.g. after an uninstall and reinstall).
    """
    owned = copy.deepcopy(manifest)
    metadata = owned.setdefault("metadata", {})
    others = [
        ref
        for ref in metadata.get("ownerReferences") or []
        if ref.get("uid") != owner["uid"]
        and (ref.get("kind"), ref.get("name")) != (owner["kind"], owner["name"])
    ]
    metadata["ownerReferences"] = [*others, owner]
    return owned


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in obj.items() if k != "status"}
    metadata = {
        k: v for k, v in (data.get("metadata") or {}).items() if k not in _VOLATILE_METADATA
    }
    return {**data, "metadata": metadata}


def apply_outcome(before: dict[str, Any] | None, after: dict[str, Any]) -> Outcome:
    """What an apply did, from the object before (None: absent) and after it."""
    if before is None:
        return "created"
    return "unchanged" if _comparable(before) == _comparable(after) else "configured"
