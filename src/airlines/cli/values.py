"""``airlines values``: validate Helm values and config files; print/generate their schema.

Two kinds of file follow the same models (:mod:`airlines.config`):

- ``chart`` (default): values files of the ``airlines-analytics`` Helm chart, e.g.
  ``values/minikube.yaml`` (:class:`airlines.config.chart.umbrella.ChartValues`);
- ``config``: the runtime configuration every program reads with ``--config``
  (:class:`airlines.config.AppConfig`).
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from pydantic import BaseModel

from airlines.cli.common import console, err_console
from airlines.config import AppConfig, ConfigError
from airlines.config.loader import read_yaml, validate_data

app = typer.Typer(help="Validate chart values and config files; print their JSON Schema.")

#: The umbrella chart, relative to the repository root.
DEFAULT_CHART_DIR = Path("charts/airlines-analytics")


class Kind(enum.StrEnum):
    CHART = "chart"
    CONFIG = "config"


KindOption = Annotated[
    Kind,
    typer.Option(
        "--kind",
        "-k",
        help="chart: Helm values of charts/airlines-analytics; "
        "config: a runtime config file (--config of every command).",
        case_sensitive=False,
    ),
]


def _model(kind: Kind) -> type[BaseModel]:
    if kind is Kind.CONFIG:
        return AppConfig
    from airlines.config.chart.umbrella import ChartValues

    return ChartValues


def _problems(kind: Kind, path: Path) -> list[str]:
    """Every problem of one file, as ``path: message`` lines (empty if it is valid).

    A chart values file is checked as Helm uses it: merged over the chart's defaults.
    """
    try:
        data = read_yaml(path)
        if kind is Kind.CHART and isinstance(data, dict):
            from airlines.config.chart.documents import values_with_defaults

            data = values_with_defaults(data)
        validate_data(_model(kind), data, str(path))
    except ConfigError as exc:
        # Rules spanning several keys come as one error with a line per rule.
        return [
            f"{exc.source}: {_full_path(line)}"
            for problem in exc.problems
            for line in problem.splitlines()
        ]
    if kind is Kind.CHART:
        from airlines.config.chart.documents import secret_like_keys

        return [
            f"{path}: {key}: looks like a secret value; values files must not carry secrets "
            "(use global.redis.auth.existingSecret)"
            for key in secret_like_keys(read_yaml(path))
        ]
    return []


_NESTED = re.compile(r"^([\w.\[\]-]+): ([A-Za-z][\w.\[\]-]*): (.*)$")


def _full_path(problem: str) -> str:
    """``kafka: defaultReplicationFactor: msg`` -> ``kafka.defaultReplicationFactor: msg``.

    A section's own rule reports at the section with a message naming its key; joined,
    the line names the value as a values file writes it.
    """
    match = _NESTED.match(problem)
    return f"{match[1]}.{match[2]}: {match[3]}" if match else problem


@app.command("validate")
def validate(
    files: Annotated[list[Path], typer.Argument(help="YAML files to check.", dir_okay=False)],
    kind: KindOption = Kind.CHART,
) -> None:
    """Check each file and report every problem with its path; exit 1 if any is invalid."""
    bad = 0
    for path in files:
        problems = _problems(kind, path)
        if problems:
            bad += 1
            for line in problems:
                err_console.print(line, highlight=False, soft_wrap=True, markup=False)
        else:
            console.print(f"{path}: ok", highlight=False)
    if bad:
        raise typer.Exit(1)


def _schema_document(kind: Kind) -> dict[str, Any]:
    if kind is Kind.CONFIG:
        return AppConfig.model_json_schema(by_alias=True, mode="validation")
    from airlines.config.chart.documents import chart_values_schema

    return chart_values_schema()


def schema_text(kind: Kind = Kind.CHART) -> str:
    """The JSON Schema as committed (``values.schema.json`` for the chart)."""
    document = _schema_document(kind)
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


@app.command("schema")
def schema(kind: KindOption = Kind.CHART) -> None:
    """Print the JSON Schema of chart values (the chart's values.schema.json) or of configs."""
    typer.echo(schema_text(kind), nl=False)


def generated_files(chart_dir: Path) -> dict[Path, str]:
    """Files derived from the models, with the content they must have."""
    from airlines.config.chart.documents import render_values_yaml

    return {
        chart_dir / "values.schema.json": schema_text(Kind.CHART),
        chart_dir / "values.yaml": render_values_yaml(),
    }


@app.command("generate")
def generate(
    chart_dir: Annotated[
        Path,
        typer.Option(help="The umbrella chart directory.", file_okay=False, exists=True),
    ] = DEFAULT_CHART_DIR,
    check: Annotated[
        bool, typer.Option("--check", help="Only report stale files; exit 1 if any.")
    ] = False,
) -> None:
    """Regenerate the chart's values.schema.json and values.yaml from the models."""
    stale = []
    for path, content in generated_files(chart_dir).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == content:
            continue
        stale.append(path)
        if not check:
            path.write_text(content, encoding="utf-8")
            console.print(f"{path}: regenerated", highlight=False)
    if check and stale:
        for path in stale:
            err_console.print(
                f"{path}: stale; run `airlines values generate`", highlight=False, markup=False
            )
        raise typer.Exit(1)
