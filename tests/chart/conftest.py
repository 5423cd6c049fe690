"""Fixtures of the chart tests: an offline copy of the chart and cached renders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

# The chart tests share helpers (tests/chart/helm.py) imported as tests.chart.helm, as mypy
# names them; the repository root is not otherwise on sys.path under plain `pytest`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.chart.helm import (
    VALUES_DIR,
    Result,
    full_chart,
    namespace_for,
    offline_chart,
    template,
)
from tests.chart.manifests import with_carried

from airlines.config.chart.documents import values_with_defaults
from airlines.config.chart.umbrella import ChartValues

VALUES_FILES = sorted(VALUES_DIR.glob("*.yaml"))


@pytest.fixture(scope="session")
def chart_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The umbrella chart without its remote dependency (see tests/chart/helm.py)."""
    return offline_chart(tmp_path_factory.mktemp("chart"))


_renders: dict[str, Result] = {}


@pytest.fixture(scope="session")
def render_env(chart_copy: Path) -> dict[str, Result]:
    """``helm template`` of the defaults ("default") and of every values/*.yaml."""
    if not _renders:
        _renders["default"] = template(chart_copy)
        for path in VALUES_FILES:
            _renders[path.name] = template(chart_copy, [path], namespace=namespace_for(path))
    return _renders


_full_renders: dict[str, Result] = {}


@pytest.fixture(scope="session")
def full_render_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Like ``render_env``, with the spark-operator chart rendered too (CRDs included)."""
    if not _full_renders:
        chart = full_chart(tmp_path_factory.mktemp("full-chart"))
        crds = ["--include-crds"]
        _full_renders["default"] = template(chart, extra=crds)
        for path in VALUES_FILES:
            _full_renders[path.name] = template(
                chart, [path], namespace=namespace_for(path), extra=crds
            )
    return _full_renders


#: The renders the chart tests check: the defaults, then every values/*.yaml by name.
ENVIRONMENTS = ["default", *(p.name for p in VALUES_FILES)]


def values_path(env: str) -> Path | None:
    return None if env == "default" else next(p for p in VALUES_FILES if p.name == env)


def namespace_of(env: str) -> str:
    path = values_path(env)
    return namespace_for(path) if path else "airlines"


def chart_values_of(env: str) -> ChartValues:
    path = values_path(env)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path else {}
    return ChartValues.model_validate(values_with_defaults(data))


@pytest.fixture(params=ENVIRONMENTS)
def env(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def docs(env: str, render_env: dict[str, Result]) -> list[dict[str, Any]]:
    result = render_env[env]
    assert result.returncode == 0, result.stderr
    return with_carried(result.documents)
