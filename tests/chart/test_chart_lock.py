"""Chart.yaml and Chart.lock agree (what `helm dependency build` checks) and are pinned."""

from __future__ import annotations

import re

import pytest
import yaml
from tests.chart.helm import CHART, REMOTE_DEPENDENCY, SUBCHARTS, lock_digest

from airlines.config.chart.umbrella import ChartValues

pytestmark = pytest.mark.chart


def _meta() -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    return data


def test_lock_digest_matches_chart_yaml() -> None:
    meta = _meta()
    lock = yaml.safe_load((CHART / "Chart.lock").read_text(encoding="utf-8"))
    requested = meta["dependencies"]
    assert isinstance(requested, list)
    assert [d["name"] for d in lock["dependencies"]] == [d["name"] for d in requested]
    for want, got in zip(requested, lock["dependencies"], strict=True):
        assert got["version"] == want["version"]
        assert got["repository"] == want.get("repository", "")
    assert lock["digest"] == lock_digest(requested, lock["dependencies"]), (
        "Chart.lock is out of sync with Chart.yaml: update its digest"
    )


def test_dependencies_are_pinned_and_conditional() -> None:
    meta = _meta()
    assert meta["kubeVersion"]
    deps = meta["dependencies"]
    assert isinstance(deps, list)
    for dep in deps:
        assert re.fullmatch(r"\d+\.\d+\.\d+", dep["version"]), dep
        if dep["name"] != "airlines-common":
            assert dep["condition"] == f"{dep['name']}.enabled", dep
        if dep["name"] == REMOTE_DEPENDENCY:
            assert dep["repository"] == "https://kubeflow.github.io/spark-operator"
        else:
            sub = yaml.safe_load((SUBCHARTS / dep["name"] / "Chart.yaml").read_text())
            assert sub["version"] == dep["version"], dep["name"]
            assert "repository" not in dep, "local subcharts live unpacked in charts/"
    library = yaml.safe_load((SUBCHARTS / "airlines-common" / "Chart.yaml").read_text())
    assert library["type"] == "library"


def test_artifact_hub_annotations() -> None:
    annotations = _meta()["annotations"]
    assert isinstance(annotations, dict)
    listed = {i["image"] for i in yaml.safe_load(annotations["artifacthub.io/images"])}
    values = ChartValues()
    defaults = [
        values.global_.images.producer,
        values.global_.images.spark_job,
        values.zookeeper.image,
        values.kafka.image,
        values.redis_cluster.image,
    ]
    assert listed == {f"{i.repository}:{i.tag}" for i in defaults}
    assert "artifacthub.io/license" in annotations
