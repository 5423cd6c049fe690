"""Every file the README and the docs name exists, and every relative link resolves.

A newcomer follows these paths first; a moved module must not leave them pointing at
nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "producers" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]

# A path in backticks that starts at one of the repository's top-level folders.
_NAMED_PATH = re.compile(
    r"`((?:src|docs|tests|testkit|jvm|jobs|charts|values|producers|localkube|scripts|"
    r"benchmarks|requirements)/[^`\s*<>]*)`"
)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#+\s+(.*)$", flags=re.MULTILINE)


def named_paths(text: str) -> list[str]:
    """Repository paths a document names in backticks (globs and placeholders skipped)."""
    return [m.group(1).rstrip("/.,") for m in _NAMED_PATH.finditer(text)]


def relative_links(text: str) -> list[str]:
    """Markdown link targets that are not URLs."""
    return [t for t in _LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[`*]", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(document: Path) -> set[str]:
    return {anchor(h) for h in _HEADING.findall(document.read_text(encoding="utf-8"))}


def link_resolves(document: Path, target: str) -> bool:
    """The link's file exists and, for a Markdown file, so does its heading anchor."""
    path, _, fragment = target.partition("#")
    resolved = (document.parent / path).resolve() if path else document
    if not resolved.exists():
        return False
    return not fragment or resolved.suffix != ".md" or fragment in anchors(resolved)


def test_named_path_finds_paths_in_backticks() -> None:
    text = "see `src/airlines/store/writer.py` and `jvm/spark-job/`, not `.stack/x`"
    assert named_paths(text) == ["src/airlines/store/writer.py", "jvm/spark-job"]


def test_link_resolves_checks_file_and_anchor() -> None:
    readme = ROOT / "README.md"
    assert link_resolves(readme, "docs/minikube.md")
    assert not link_resolves(readme, "docs/no-such-file.md")
    assert not link_resolves(readme, "docs/minikube.md#no-such-heading")


def test_anchor_matches_githubs_rule() -> None:
    assert anchor("7. Query the analytics through a port-forward") == (
        "7-query-the-analytics-through-a-port-forward"
    )
    assert anchor("The `local` JVM") == "the-local-jvm"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_named_path_exists(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    missing = [p for p in named_paths(text) if not (ROOT / p).exists()]
    assert not missing, f"{document.name} names paths that do not exist: {missing}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_relative_link_resolves(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    broken = [t for t in relative_links(text) if not link_resolves(document, t)]
    assert not broken, f"{document.name} has broken links: {broken}"
