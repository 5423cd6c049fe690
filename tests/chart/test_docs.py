"""The install guide and the chart README name things that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.chart.helm import CHART, ROOT, VALUES_DIR, offline_chart, run, tool
from tests.chart.manifests import with_carried

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
