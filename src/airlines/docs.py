"""Documents generated from the code, so they cannot drift from it.

- sections between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers: the event
  contract in README.md, the config reference in docs/configuration.md and the metrics
  in docs/metrics.md;
- docs/cli.md, the CLI reference, written by Typer's generator;
- the chart's README.md, written by helm-docs from its README.md.gotmpl and the
  ``# --`` comments of its values.yaml (``airlines values generate`` writes those).

``python -m airlines.docs`` (``make docs``) rewrites them; tests fail when one is stale.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
import typer.main
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from typer.cli import get_docs_for_click

from airlines.cli import app
from airlines.config import AppConfig
from airlines.config.types import format_duration
from airlines.contract.event import FlightEvent
from airlines.metrics import METRICS
from airlines.paths import cache_dir


def _type_name(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " \\| ".join(_type_name(s) for s in schema["anyOf"])
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if schema.get("type") == "array":
        return f"list of {_type_name(schema.get('items', {}))}"
    kind = str(schema.get("type", "object"))
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt else kind


_CONSTRAINTS = {
    "minimum": ">= {}",
    "exclusiveMinimum": "> {}",
    "maximum": "<= {}",
    "pattern": "matches `{}`",
    "minLength": "length >= {}",
    "maxLength": "length <= {}",
    "minItems": "at least {} items",
}


def _constraints(schema: dict[str, Any]) -> str:
    return ", ".join(
        text.format(schema[key]) for key, text in _CONSTRAINTS.items() if key in schema
    )


def contract_table() -> str:
    schema = FlightEvent.model_json_schema()
    defs = schema.get("$defs", {})
    rows = ["| field | type | constraints | meaning |", "|---|---|---|---|"]
    for name, prop in schema["properties"].items():
        resolved = defs.get(prop["$ref"].rsplit("/", 1)[-1], prop) if "$ref" in prop else prop
        description = prop.get("description") or resolved.get("description", "")
        rows.append(
            f"| `{name}` | {_type_name(resolved)} | {_constraints(prop)} | "
            f"{description.splitlines()[0] if description else ''} |"
        )
    return "\n".join(rows)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, list):
        if value and isinstance(value[0], BaseModel):
            return f"{len(value)} entries"
        return "`" + ", ".join(map(str, value)) + "`"
    if value is None:
        return "`null`"
    if hasattr(value, "total_seconds"):
        return f"`{format_duration(value)}`"
    return f"`{getattr(value, 'value', value)}`"


def _walk(model: type[BaseModel], prefix: str, rows: list[str]) -> None:
    schema = model.model_json_schema(by_alias=True)
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        annotation = field.annotation
        nested = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
        if nested is not None:
            _walk(nested, f"{key}.", rows)
            continue
        prop = schema["properties"][field.alias or name]
        if "$ref" in prop:
            prop = schema["$defs"][prop["$ref"].rsplit("/", 1)[-1]]
        args: tuple[Any, ...] = getattr(annotation, "__args__", (None,))
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if type(None) in args and len(args) == 2 and models:  # an optional section
            rows.append(f"| `{key}` | object | {_default(field)} | {field.description or ''} |")
            _walk(models[0], f"{key}.", rows)
            continue
        item = args[0]
        if isinstance(item, type) and issubclass(item, BaseModel):
            rows.append(f"| `{key}` | list | {_default(field)} | {field.description or ''} |")
            _walk(item, f"{key}[].", rows)
            continue
        rows.append(
            f"| `{key}` | {_type_name(prop)} | {_default(field)} | {field.description or ''} |"
        )


def config_table() -> str:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    _walk(AppConfig, "", rows)
    return "\n".join(rows)


def cli_reference() -> str:
    """Markdown reference of every ``airlines`` command, as ``typer ... utils docs`` writes it."""
    command = typer.main.get_command(app)
    docs: str = get_docs_for_click(obj=command, ctx=typer.Context(command), name="airlines")
    return docs.strip() + "\n"


#: The chart whose README helm-docs writes (from its README.md.gotmpl and the ``# --``
#: comments of its values.yaml), and how: rows in values.yaml's order.
CHART_DIR = Path("charts/airlines-analytics")
HELM_DOCS_ARGS = [
    f"--chart-search-root={CHART_DIR}",
    f"--chart-to-generate={CHART_DIR}",
    "--sort-values-order=file",
    "--log-level=warning",
]


def helm_docs() -> str:
    """The helm-docs that scripts/setup-chart-tools.sh builds."""
    found = shutil.which("helm-docs") or shutil.which("helm-docs", path=cache_dir() / "bin")
    if found is None:
        raise FileNotFoundError("helm-docs: run scripts/setup-chart-tools.sh (make setup does)")
    return found


def metrics_table() -> str:
    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for spec in METRICS:
        labels = ", ".join(f"`{label}`" for label in spec.labels)
        rows.append(f"| `{spec.name}` | {spec.kind} | {labels} | {spec.help} |")
    return "\n".join(rows)


#: Each generated section: the document that holds it, between its markers.
SECTIONS = {
    "contract": (Path("README.md"), contract_table),
    "config": (Path("docs/configuration.md"), config_table),
    "metrics": (Path("docs/metrics.md"), metrics_table),
}

#: The CLI reference, generated whole.
CLI_REFERENCE = Path("docs/cli.md")


def render(text: str, document: Path) -> str:
    """``text`` of ``document`` with each of its generated sections made afresh."""
    for name, (holder, make) in SECTIONS.items():
        if holder != document:
            continue
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", flags=re.DOTALL)
        text = pattern.sub(lambda m, make=make: f"{m.group(1)}{make()}\n{m.group(2)}", text)  # type: ignore[misc]
    return text


def _write(path: Path, content: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != content:
        path.write_text(content, encoding="utf-8")
        print(f"{path}: regenerated")


def main(argv: list[str]) -> int:
    """Rewrite the generated documents, run from the repository root: the sections of
    README.md and docs/, docs/cli.md and the chart's README."""
    for document in dict.fromkeys(holder for holder, _ in SECTIONS.values()):
        _write(document, render(document.read_text(encoding="utf-8"), document))
    _write(CLI_REFERENCE, cli_reference())
    return subprocess.run([helm_docs(), *HELM_DOCS_ARGS], check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
