"""The install guide and the chart README name things that exist; helm-docs wrote the
chart README from its template and values.yaml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.chart.helm import CHART, ROOT, VALUES_DIR, offline_chart, run, tool
from tests.chart.manifests import with_carried

from airlines.docs import HELM_DOCS_ARGS, helm_docs

pytestmark = pytest.mark.chart

GUIDE = ROOT / "docs" / "minikube.md"


def test_guide_names_rendered_resources(tmp_path: Path) -> None:
    """Every `airlines-...` resource name in docs/minikube.md is in the minikube render
    (release "airlines", namespace "airlines", as the guide installs it)."""
    chart = offline_chart(tmp_path)
    result = run(
        [
            tool("helm"),
            "template",
            "airlines",
            str(chart),
            "--namespace",
            "airlines",
            "--values",
            str(VALUES_DIR / "minikube.yaml"),
        ]
    )
    assert result.returncode == 0, result.stderr
    rendered = {d["metadata"]["name"] for d in with_carried(result.documents)}
    pods = {
        f"{d['metadata']['name']}-{i}"
        for d in result.documents
        if d["kind"] == "StatefulSet"
        for i in range(d["spec"]["replicas"])
    }
    text = GUIDE.read_text(encoding="utf-8")
    not_resources = {"airlines-analytics"}
    mentioned = set(re.findall(r"\bairlines-[a-z0-9-]*[a-z0-9]\b", text)) - not_resources
    assert mentioned
    for name in sorted(mentioned):
        if name.startswith("airlines-redis-cluster-") and name[-1:].isdigit():
            assert name in pods, name
            continue
        assert name in rendered, f"docs/minikube.md names {name!r}, which the chart does not render"


def test_guide_commands_match_the_repository() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for path in re.findall(r"\b(values/[a-z-]+\.yaml|charts/[a-z-]+)\b", text):
        assert (ROOT / path).exists(), path
    assert "BUILDER=minikube make images" in text
    assert "helm dependency build charts/airlines-analytics" in text
    assert "helm test airlines" in text
    assert "helm uninstall airlines" in text
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    assert "../../docs/minikube.md" in readme


def test_chart_readme_is_what_helm_docs_writes() -> None:
    result = run([helm_docs(), *HELM_DOCS_ARGS, "--dry-run"], cwd=ROOT)
    assert result.returncode == 0, result.stderr
    committed = (CHART / "README.md").read_text(encoding="utf-8")
    assert committed == result.stdout, "the chart README is stale: run `make docs`"


def test_chart_readme_has_a_row_per_documented_value() -> None:
    """Every `# --` comment of values.yaml (a parameter) is a row of the table."""
    values = (CHART / "values.yaml").read_text(encoding="utf-8").splitlines()
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip() for line in readme.splitlines() if line.startswith("| ")}
    path: list[tuple[int, str]] = []
    documented = []
    for i, line in enumerate(values):
        key = re.match(r"^( *)([^#\s-][^:]*):", line)
        if not key:
            continue
        depth = len(key[1])
        path = [(d, k) for d, k in path if d < depth] + [(depth, key[2].strip('"'))]
        if values[i - 1].strip().startswith("# -- "):
            documented.append(".".join(k for _, k in path))
    assert len(documented) > 100
    assert [key for key in documented if key not in rows] == []
