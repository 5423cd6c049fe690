"""The umbrella chart's one remote dependency, placed the way ``helm dependency build`` does.

kubeflow's chart repository (where Chart.lock pins spark-operator 2.4.0) is not
reachable from the machines this project is tested on; the same chart version,
packaged from its upstream source, is vendored beside the repository
(``../shared/vendor``, or ``$AIRLINES_VENDOR_DIR``). ``helm dependency build`` would put
``spark-operator-2.4.0.tgz`` into ``charts/airlines-analytics/charts/``; so does
:func:`place`, after checking the package is the name and version Chart.lock pins.
Elsewhere, run ``helm dependency build charts/airlines-analytics`` instead.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import yaml

from localkube.paths import REPO

CHART = REPO / "charts" / "airlines-analytics"


class DependencyError(RuntimeError):
    """The vendored package is missing or is not the version Chart.lock pins."""


def vendor_dir() -> Path:
    explicit = os.environ.get("AIRLINES_VENDOR_DIR")
    return Path(explicit) if explicit else REPO.parent / "shared" / "vendor"


def remote_dependencies() -> list[tuple[str, str]]:
    """(name, version) of every Chart.lock dependency that comes from a repository."""
    lock = yaml.safe_load((CHART / "Chart.lock").read_text())
    return [(d["name"], d["version"]) for d in lock["dependencies"] if d.get("repository")]


def _chart_yaml(package: Path) -> dict[str, object]:
    with tarfile.open(package) as tar:
        for member in tar.getmembers():
            if member.name.count("/") == 1 and member.name.endswith("/Chart.yaml"):
                handle = tar.extractfile(member)
                if handle is not None:
                    data = yaml.safe_load(handle.read())
                    if isinstance(data, dict):
                        return data
    raise DependencyError(f"{package}: no Chart.yaml at its top level")


def place() -> list[Path]:
    """Copy each pinned remote dependency from the vendor directory into charts/."""
    placed = []
    for name, version in remote_dependencies():
        filename = f"{name}-{version}.tgz"
        target = CHART / "charts" / filename
        source = vendor_dir() / filename
        if not source.exists():
            if target.exists():
                placed.append(target)
                continue
            raise DependencyError(
                f"{filename} is neither in {vendor_dir()} nor in {target.parent}: run "
                "'helm dependency build charts/airlines-analytics' where kubeflow's chart "
                "repository is reachable, or set AIRLINES_VENDOR_DIR"
            )
        meta = _chart_yaml(source)
        if (meta.get("name"), str(meta.get("version"))) != (name, version):
            raise DependencyError(
                f"{source} is {meta.get('name')} {meta.get('version')}; Chart.lock pins "
                f"{name} {version}"
            )
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)
        placed.append(target)
    return placed


if __name__ == "__main__":
    import sys

    try:
        for path in place():
            print(f"chart dependency in place: {path.relative_to(REPO)}")
    except DependencyError as exc:
        print(f"warning: {exc}", file=sys.stderr)
