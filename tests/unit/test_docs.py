"""README sections generated from the code are current (run ``python -m airlines.docs``)."""

from __future__ import annotations

from pathlib import Path

from airlines.docs import SECTIONS, render

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_generated_sections_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    for name in SECTIONS:
        assert f"<!-- {name}:start -->" in text, f"README lost its {name} section markers"
    assert render(text) == text, "README is stale: run `.venv/bin/python -m airlines.docs`"


def test_contract_table_lists_every_field() -> None:
    from airlines.contract.event import event_fields
    from airlines.docs import contract_table

    table = contract_table()
    for field in event_fields():
        assert f"| `{field}` |" in table
