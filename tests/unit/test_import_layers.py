"""The package keeps its layers: import-linter's contracts (``[tool.importlinter]`` in
pyproject.toml) hold, so a forbidden import fails the tests as well as ``make lint``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def broken_contracts_report(output: str) -> str:
    """The part of lint-imports' output that names the broken contracts and the imports
    that break them (all of it when that section is missing)."""
    _, marker, report = output.partition("Broken contracts")
    return (marker + report).strip() if marker else output.strip()


def test_broken_contracts_report_keeps_only_what_broke() -> None:
    output = "Contracts: 1 kept, 1 broken.\n\nBroken contracts\n----\nairlines.paths -> x\n"
    assert broken_contracts_report(output) == "Broken contracts\n----\nairlines.paths -> x"
    assert broken_contracts_report("  no such section\n") == "no such section"


def test_every_import_contract_is_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        "An import breaks the package's layers or another import contract "
        "([tool.importlinter] in pyproject.toml). Move the shared name down to a module "
        "both sides may import, rather than importing upwards.\n\n"
        + broken_contracts_report(result.stdout + result.stderr)
    )
    assert "0 broken" in result.stdout, result.stdout
