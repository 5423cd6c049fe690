"""Generated parts of README.md: the event contract, the config reference, the CLI.

Each lives between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers and is
rendered from the code, so the README cannot drift from it. ``python -m airlines.docs``
rewrites them; the test suite fails when they are stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from airlines.config import AppConfig
from airlines.contract.event import FlightEvent


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
        from airlines.config.types import format_duration

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
    import typer.main

    from airlines.cli import app

    root = typer.main.get_command(app)
    out: list[str] = []

    # Typer vendors click; walk its command tree by duck typing rather than private imports.
    def visit(command: Any, path: list[str]) -> None:
        if hasattr(command, "commands"):
            for name in sorted(command.commands):
                visit(command.commands[name], [*path, name])
            return
        ctx = command.context_class(command, info_name=" ".join(path))
        usage = " ".join(command.collect_usage_pieces(ctx))
        summary = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
        out.append(f"#### `{' '.join(path)}`\n\n{summary}\n\n```\n{' '.join(path)} {usage}\n```")
        options = []
        for param in command.params:
            help_text = getattr(param, "help", None)
            if param.param_type_name == "option" and help_text and "--help" not in param.opts:
                options.append(f"- `{', '.join(param.opts)}`: {help_text}")
        if options:
            out.append("\n".join(options))

    visit(root, ["airlines"])
    return "\n\n".join(out)


def metrics_table() -> str:
    from airlines.metrics import METRICS

    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for spec in METRICS:
        labels = ", ".join(f"`{label}`" for label in spec.labels)
        rows.append(f"| `{spec.name}` | {spec.kind} | {labels} | {spec.help} |")
    return "\n".join(rows)


SECTIONS = {
    "contract": contract_table,
    "config": config_table,
    "cli": cli_reference,
    "metrics": metrics_table,
}


def render(text: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", flags=re.DOTALL)
        text = pattern.sub(lambda m, make=make: f"{m.group(1)}{make()}\n{m.group(2)}", text)  # type: ignore[misc]
    return text


def main(argv: list[str]) -> int:
    readme = Path(argv[1] if len(argv) > 1 else "README.md")
    current = readme.read_text(encoding="utf-8")
    updated = render(current)
    if updated != current:
        readme.write_text(updated, encoding="utf-8")
        print(f"{readme}: regenerated sections")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
