"""Documents generated from the code are current (run ``make docs``)."""

from __future__ import annotations

from pathlib import Path

from airlines.docs import CLI_REFERENCE, SECTIONS, cli_reference, render

ROOT = Path(__file__).resolve().parents[2]


def test_generated_sections_are_current() -> None:
    for name, (document, _) in SECTIONS.items():
        text = (ROOT / document).read_text(encoding="utf-8")
        assert f"<!-- {name}:start -->" in text, f"{document} lost its {name} section markers"
        assert render(text, document) == text, f"{document} is stale: run `make docs`"


def test_contract_table_lists_every_field() -> None:
    from airlines.contract.event import event_fields
    from airlines.docs import contract_table

    table = contract_table()
    for field in event_fields():
        assert f"| `{field}` |" in table


def test_cli_reference_is_current() -> None:
    committed = (ROOT / CLI_REFERENCE).read_text(encoding="utf-8")
    assert committed == cli_reference(), f"{CLI_REFERENCE} is stale: run `make docs`"


def test_cli_reference_covers_every_command() -> None:
    import typer.main

    from airlines.cli import app

    def paths(command: object, prefix: str) -> list[str]:
        children = getattr(command, "commands", {})
        return [prefix] + [p for name, c in children.items() for p in paths(c, f"{prefix} {name}")]

    reference = cli_reference()
    for path in paths(typer.main.get_command(app), "airlines"):
        assert f"# `{path}`" in reference, path
