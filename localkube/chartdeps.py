"""The umbrella chart's one remote dependency, committed where ``helm dependency build`` puts it.

Chart.lock pins kubeflow's spark-operator chart; its package
``charts/airlines-analytics/charts/spark-operator-<version>.tgz`` is part of the
repository, with a ``sha256sum``-format checksum file beside it, so a clone installs
offline. :func:`verify` checks that every remote dependency of Chart.lock is there, is the
name and version Chart.lock pins, and has the digest its checksum file records.
``helm dependency build charts/airlines-analytics`` (where kubeflow's repository is
reachable) writes the same file; after a version bump, write its checksum with
``sha256sum spark-operator-<version>.tgz > spark-operator-<version>.tgz.sha256``.
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import yaml

from localkube.paths import REPO

CHART = REPO / "charts" / "airlines-analytics"


class DependencyError(RuntimeError):
    """The committed package is missing, altered, or not the version Chart.lock pins."""


def remote_dependencies() -> list[tuple[str, str]]:
    """(name, version) of every Chart.lock dependency that comes from a repository."""
    lock = yaml.safe_load((CHART / "Chart.lock").read_text())
    return [(d["name"], d["version"]) for d in lock["dependencies"] if d.get("repository")]


def package_path(name: str, version: str) -> Path:
    return CHART / "charts" / f"{name}-{version}.tgz"


def checksum_path(package: Path) -> Path:
    return package.with_name(package.name + ".sha256")


def sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def recorded_sha256(package: Path) -> str:
    """The digest the checksum file records for ``package`` (``sha256sum`` format)."""
    file = checksum_path(package)
    if not file.is_file():
        raise DependencyError(f"{file.relative_to(CHART)}: missing (the package's checksum)")
    for line in file.read_text().splitlines():
        digest, _, name = line.partition("  ")
        if name.strip().lstrip("*") == package.name:
            return digest.strip()
    raise DependencyError(f"{file.relative_to(CHART)}: no line for {package.name}")


def chart_yaml(package: Path) -> dict[str, object]:
    with tarfile.open(package) as tar:
        for member in tar.getmembers():
            if member.name.count("/") == 1 and member.name.endswith("/Chart.yaml"):
                handle = tar.extractfile(member)
                if handle is not None:
                    data = yaml.safe_load(handle.read())
                    if isinstance(data, dict):
                        return data
    raise DependencyError(f"{package}: no Chart.yaml at its top level")


def verify() -> list[Path]:
    """Check every pinned remote dependency's committed package; return their paths."""
    checked = []
    for name, version in remote_dependencies():
        package = package_path(name, version)
        where = package.relative_to(CHART)
        if not package.is_file():
            raise DependencyError(
                f"{where}: missing; it is part of the repository (restore it with git, or "
                "run 'helm dependency build charts/airlines-analytics' where kubeflow's "
                "chart repository is reachable)"
            )
        expected, found = recorded_sha256(package), sha256(package)
        if found != expected:
            raise DependencyError(f"{where}: sha256 {found}, its checksum file records {expected}")
        meta = chart_yaml(package)
        if (meta.get("name"), str(meta.get("version"))) != (name, version):
            raise DependencyError(
                f"{where} is {meta.get('name')} {meta.get('version')}; Chart.lock pins "
                f"{name} {version}"
            )
        checked.append(package)
    return checked


if __name__ == "__main__":
    import sys

    try:
        for path in verify():
            print(f"chart dependency verified: {path.relative_to(REPO)}")
    except DependencyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
