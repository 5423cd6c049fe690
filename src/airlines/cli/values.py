"""``airlines values``: validate configuration/values files and print their JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from airlines.cli.common import console, err_console
from airlines.config import AppConfig, ConfigError
from airlines.config.loader import read_yaml, validate_data

app = typer.Typer(help="Validate configuration files; print the JSON Schema they follow.")


@app.command("validate")
def validate(
    files: Annotated[list[Path], typer.Argument(help="YAML files to check.", dir_okay=False)],
) -> None:
    """Check each file and report every problem with its path; exit 1 if any is invalid."""
    bad = 0
    for path in files:
        try:
            validate_data(AppConfig, read_yaml(path), str(path))
        except ConfigError as exc:
            bad += 1
            err_console.print(exc.render(), highlight=False, soft_wrap=True, markup=False)
        else:
            console.print(f"{path}: ok", highlight=False)
    if bad:
        raise typer.Exit(1)


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of configuration files."""
    document = AppConfig.model_json_schema(by_alias=True, mode="validation")
    typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
