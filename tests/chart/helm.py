"""Running the chart tools (helm, helm-unittest, kubeconform) from the tests.

The tools are built by scripts/setup-chart-tools.sh into ``$AIRLINES_CACHE/bin``. The
spark-operator dependency is fetched from kubeflow's chart repository, which these
machines cannot reach, and Helm refuses to render a chart whose dependency is missing
(whatever its ``condition``), so most renders use :func:`offline_chart`: a copy of the
chart whose Chart.yaml omits that one dependency. Everything else renders as users get
it. The tests that need the operator's own objects (its webhooks, its containers) render
:func:`full_chart`, with the operator chart found by :func:`operator_chart`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from airlines.paths import cache_dir

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "airlines-analytics"
SUBCHARTS = CHART / "charts"
VALUES_DIR = ROOT / "values"
BAD_VALUES = Path(__file__).resolve().parent / "bad-values"
REMOTE_DEPENDENCY = "spark-operator"
#: Namespace the renders use; values files name the Spark job namespace they expect.
NAMESPACES = {"dev.yaml": "airlines-dev"}
DEFAULT_NAMESPACE = "airlines"
RELEASE = "rel"


def tool(name: str) -> str:
    """Path of a chart tool; a clear failure when setup has not built it."""
    found = shutil.which(name) or shutil.which(name, path=str(cache_dir() / "bin"))
    if not found:
        raise AssertionError(
            f"{name} not found on PATH or in {cache_dir() / 'bin'}: "
            "run scripts/setup-chart-tools.sh (make setup does)"
        )
    return found


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def documents(self) -> list[dict[str, Any]]:
        return [doc for doc in yaml.safe_load_all(self.stdout) if doc]


def run(args: list[str], cwd: Path | None = None, timeout: float = 300) -> Result:
    env = dict(os.environ, HELM_CACHE_HOME="/tmp/airlines-helm-cache", NO_COLOR="1")
    proc = subprocess.run(
        args, capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env, check=False
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def offline_chart(dest: Path) -> Path:
    """Copy of the umbrella chart without the remote spark-operator dependency."""
    target = dest / CHART.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(CHART, target, ignore=shutil.ignore_patterns("*.tgz", "tmpcharts-*"))
    meta = yaml.safe_load((target / "Chart.yaml").read_text(encoding="utf-8"))
    meta["dependencies"] = [d for d in meta["dependencies"] if d["name"] != REMOTE_DEPENDENCY]
    (target / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    (target / "Chart.lock").unlink(missing_ok=True)
    return target


def operator_version() -> str:
    """The spark-operator version Chart.yaml pins."""
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    (dep,) = [d for d in meta["dependencies"] if d["name"] == REMOTE_DEPENDENCY]
    return str(dep["version"])


def operator_chart() -> Path:
    """The pinned spark-operator chart (a .tgz or a chart directory), from the first of:

    - ``$AIRLINES_SPARK_OPERATOR_CHART``;
    - ``charts/airlines-analytics/charts/spark-operator-<version>.tgz``, what ``helm
      dependency build`` writes (committed, with its checksum beside it);
    - the chart inside the spark-operator Go module in ``$AIRLINES_CACHE/go/mod``, which
      scripts/setup-cluster-tools.sh downloads from the Go module proxy.
    """
    version = operator_version()
    candidates = [
        Path(os.environ["AIRLINES_SPARK_OPERATOR_CHART"])
        if os.environ.get("AIRLINES_SPARK_OPERATOR_CHART")
        else None,
        SUBCHARTS / f"{REMOTE_DEPENDENCY}-{version}.tgz",
        cache_dir()
        / "go/mod/github.com/kubeflow/spark-operator"
        / f"v2@v{version}/charts/spark-operator-chart",
    ]
    for candidate in candidates:
        if candidate is not None and candidate.exists():
            return candidate
    raise AssertionError(
        f"the spark-operator {version} chart was not found; any one of these provides it: "
        f"`helm dependency build {CHART}`; a copy of the vendored "
        f"spark-operator-{version}.tgz in {SUBCHARTS}/; scripts/setup-cluster-tools.sh (Go "
        "module cache); or $AIRLINES_SPARK_OPERATOR_CHART naming the .tgz or directory"
    )


def full_chart(dest: Path) -> Path:
    """Copy of the umbrella chart with the spark-operator chart in its charts/."""
    source = operator_chart()
    target = dest / CHART.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(CHART, target, ignore=shutil.ignore_patterns("*.tgz", "tmpcharts-*"))
    if source.is_dir():
        shutil.copytree(source, target / "charts" / REMOTE_DEPENDENCY)
    else:
        shutil.copy(source, target / "charts" / source.name)
    return target


def without_dependencies(dest: Path) -> Path:
    """Copy of the umbrella chart as committed: no fetched dependency in charts/."""
    target = dest / CHART.name
    shutil.copytree(CHART, target, ignore=shutil.ignore_patterns("*.tgz", "tmpcharts-*"))
    return target


def template(
    chart: Path,
    values: Sequence[Path] = (),
    sets: Sequence[str] = (),
    namespace: str = DEFAULT_NAMESPACE,
    extra: Sequence[str] = (),
) -> Result:
    args = [tool("helm"), "template", RELEASE, str(chart), "--namespace", namespace]
    for path in values:
        args += ["--values", str(path)]
    for item in sets:
        args += ["--set", item]
    return run([*args, *extra])


def namespace_for(values_file: Path) -> str:
    return NAMESPACES.get(values_file.name, DEFAULT_NAMESPACE)


def lock_digest(requested: list[dict[str, Any]], locked: list[dict[str, Any]]) -> str:
    """Helm's Chart.lock digest (resolver.HashReq): sha256 of Go's JSON of both lists."""

    def go_json(dep: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"name": dep["name"]}
        if dep.get("version"):
            out["version"] = dep["version"]
        out["repository"] = dep.get("repository", "")
        for key in ("condition", "tags", "enabled", "import-values", "alias"):
            if dep.get(key):
                out[key] = dep[key]
        return out

    text = json.dumps(
        [[go_json(d) for d in requested], [go_json(d) for d in locked]],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escaped)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
