"""Bad values files are rejected by BOTH `airlines values validate` and Helm, naming the field.

Each file in bad-values/ starts with ``# field: <path>``: the value both must name. Helm
names it through values.schema.json (as a JSON pointer, ``/kafka/replicaCount``) or
through a validateValues template (as written in values files, ``kafka.replicaCount``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.chart.helm import BAD_VALUES, template
from typer.testing import CliRunner

from airlines.cli import app

pytestmark = pytest.mark.chart

BAD_FILES = sorted(BAD_VALUES.glob("*.yaml"))


def _field(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"# field: (\S+)", first)
    assert match, f"{path.name}: first line must be '# field: <path>'"
    return match[1]


def _pointer(field: str) -> str:
    """``global.config.topics[0].name`` -> ``/global/config/topics/0/name``."""
    return "/" + re.sub(r"\[(\d+)\]", r".\1", field).replace(".", "/")


def _helm_names(field: str, message: str) -> bool:
    if field in message or f"'{_pointer(field)}'" in message:
        return True
    # Unknown keys are reported at their parent: at '/kafka': additional properties 'x'.
    parent, _, key = _pointer(field).rpartition("/")
    return f"'{parent}'" in message and f"'{key}'" in message


def test_there_are_enough_bad_values_files() -> None:
    assert len(BAD_FILES) >= 10


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_airlines_values_validate_rejects(path: Path) -> None:
    result = CliRunner().invoke(app, ["values", "validate", str(path)])
    assert result.exit_code == 1, result.output
    assert f"{path}: {_field(path)}" in result.output, result.output


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_helm_rejects(path: Path, chart_copy: Path) -> None:
    result = template(chart_copy, [path])
    assert result.returncode != 0, f"helm rendered {path.name}"
    assert _helm_names(_field(path), result.stderr), result.stderr


def test_helm_rejects_a_job_namespace_the_operator_does_not_watch(chart_copy: Path) -> None:
    """Only Helm knows the release namespace: the Spark Operator must watch it."""
    result = template(chart_copy, namespace="elsewhere")
    assert result.returncode != 0
    assert "spark-operator.spark.jobNamespaces" in result.stderr
    assert '"elsewhere"' in result.stderr
