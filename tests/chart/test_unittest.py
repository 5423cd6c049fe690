"""helm-unittest suites: one per template (tests/ mirrors templates/), run with --strict."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.chart.helm import CHART, SUBCHARTS, run, tool

pytestmark = pytest.mark.chart


def _is_library(chart: Path) -> bool:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))
    return bool(meta.get("type") == "library")


# The library chart only defines helpers; every other suite exercises them.
# Packaged dependencies (.tgz, e.g. spark-operator after `helm dependency build`) are not ours.
CHARTS = [CHART, *sorted(p for p in SUBCHARTS.iterdir() if p.is_dir() and not _is_library(p))]


@pytest.mark.parametrize("chart", CHARTS, ids=lambda p: p.name)
def test_every_template_has_a_suite(chart: Path) -> None:
    templates = chart / "templates"
    for template in sorted(templates.rglob("*.yaml")):
        relative = template.relative_to(templates)
        suite = chart / "tests" / relative.parent / f"{template.stem}_test.yaml"
        assert suite.exists(), f"{template} has no helm-unittest suite {suite}"


def test_helm_unittest_strict() -> None:
    """Every suite of the umbrella chart and its subcharts (rendered as part of it, the
    way Helm renders them); helm-unittest does not need the remote spark-operator chart."""
    result = run([tool("helm-unittest"), "--strict", "--color=false", str(CHART)])
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.split("Test Suites:", 1)[1]
    assert "failed" not in summary.split("Snapshot:", 1)[0], result.stdout
