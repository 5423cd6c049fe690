"""What the host resolves for the image builds, so that no build downloads it again:
Maven jars (from a pom), a PyPI source distribution, the cluster binaries of
``scripts/setup-cluster-tools.sh`` and files of downloaded Go modules. Each is fetched once
into ``$AIRLINES_CACHE`` and then only checked. Used by :mod:`localkube.images`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from localkube import paths
from localkube.buildah import BuildError, digest_files, run_logged

Progress = Callable[[str], None]


def _logs() -> Path:
    return paths.images_cache_dir() / "logs"


def maven_jars(pom: Path, name: str, progress: Progress) -> Path:
    """The runtime jars of ``pom`` (``mvn dependency:copy-dependencies``, Maven's cache in
    ``$AIRLINES_CACHE/m2`` as scripts/setup.sh uses it); resolved again only when the pom
    changes."""
    out = paths.images_cache_dir() / "inputs" / f"{name}-jars"
    stamp_file = out.with_name(out.name + ".stamp")  # beside: the jars dir is a build context
    stamp = digest_files([("pom.xml", pom)])
    if out.is_dir() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return out
    progress(f"  resolving {name} jars with Maven ({pom.relative_to(paths.REPO)})")
    tmp = out.with_name(out.name + ".tmp")
    subprocess.run(["rm", "-rf", str(tmp), str(out)], check=True)
    run_logged(
        ["mvn", "-B", "-ntp", "-q", "-f", str(pom),
         f"-Dmaven.repo.local={paths.cache_dir() / 'm2'}", "dependency:copy-dependencies",
         "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"],
        _logs() / f"{name}-maven.log",
    )  # fmt: skip
    tmp.rename(out)
    stamp_file.write_text(stamp)
    return out


def pypi_sdist(project: str, version: str, progress: Progress) -> Path:
    """``project==version``'s source distribution from PyPI (pip, the host's certificates)."""
    out = paths.images_cache_dir() / "inputs" / "pypi"
    sdist = out / f"{project}-{version}.tar.gz"
    if not sdist.is_file():
        progress(f"  downloading {project}=={version} from PyPI")
        run_logged(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "-d", str(out), f"{project}=={version}"],
            _logs() / f"{project}-download.log",
        )  # fmt: skip
    return sdist


def cluster_binary(name: str, version: str) -> Path:
    """A binary scripts/setup-cluster-tools.sh built, checked against its version stamp."""
    binary = paths.bin_dir() / name
    stamp = paths.bin_dir() / f".{name}.version"
    found = stamp.read_text().strip() if binary.exists() and stamp.exists() else ""
    if found.removeprefix("v") != version.removeprefix("v"):
        state = f"version {found}" if found else "missing"
        raise BuildError(
            f"{binary}: {state}, {version} is needed: run scripts/setup-cluster-tools.sh"
        )
    return binary


def go_module_file(module: str, path: str) -> Path:
    """A file of Go module ``module`` (path@version), from the module cache that
    scripts/setup-cluster-tools.sh shares (downloaded from the Go module proxy if absent)."""
    modcache = paths.cache_dir() / "go" / "mod"
    file = modcache / module / path
    if not file.is_file():
        env = {**os.environ, "GOMODCACHE": str(modcache), "GOFLAGS": "-modcacherw"}
        subprocess.run(["go", "mod", "download", module], env=env, check=True, cwd="/")
    return file
