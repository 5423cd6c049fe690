"""The product's wheel, what the images install, holds the ``airlines`` package and nothing
of its tests: no test kit, no ``tests`` tree, no module that is test support.

The wheel is built the way the images build it (``pip install --no-deps
--no-build-isolation``), from a copy of the repository with its tests and test kit in
place, so packaging that picked them up would show here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile

import pytest
from tests.chart.helm import ROOT

pytestmark = pytest.mark.chart

#: Derived or machine-local trees: not what a checkout holds.
_NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".*_cache",
    ".stack",
    ".state",
    ".e2e",
    ".hypothesis",
    "target",
)
#: Names of modules that only tests have use for.
_TEST_SUPPORT_NAME = re.compile(r"(^|/)(tests?|testing|testkit|conftest|fixtures)(/|\.py$)|/test_")
#: An import of a test framework or of the test kit.
_TEST_IMPORT = re.compile(
    r"^\s*(import|from)\s+(pytest|hypothesis|_pytest|airlines_testkit)\b", re.MULTILINE
)


def entries_of_test_support(names: list[str], sources: dict[str, str]) -> list[str]:
    """The wheel entries (``names``; ``sources``: the text of its .py files) that are test
    support, each with why."""
    found = [f"{n}: a test support name" for n in names if _TEST_SUPPORT_NAME.search(n)]
    found += [
        f"{n}: imports a test framework or the test kit"
        for n, text in sources.items()
        if _TEST_IMPORT.search(text)
    ]
    return found


def test_test_support_is_recognised() -> None:
    assert entries_of_test_support(
        ["airlines/stack/testing.py", "tests/unit/x.py", "airlines/ops/test_hooks.py"],
        {"airlines/stack/hooks.py": "from __future__ import annotations\nimport pytest\n"},
    ) == [
        "airlines/stack/testing.py: a test support name",
        "tests/unit/x.py: a test support name",
        "airlines/ops/test_hooks.py: a test support name",
        "airlines/stack/hooks.py: imports a test framework or the test kit",
    ]
    assert (
        entries_of_test_support(
            ["airlines/contract/event.py"], {"airlines/contract/event.py": "import pydantic\n"}
        )
        == []
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    work = tmp_path_factory.mktemp("wheel")
    checkout = work / "checkout"
    shutil.copytree(ROOT, checkout, ignore=_NOT_SOURCES, symlinks=True)
    assert (checkout / "testkit").is_dir()
    assert (checkout / "tests").is_dir()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(work / "out"),
            str(checkout),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = (work / "out").glob("*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_holds_the_product_and_nothing_of_its_tests(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    packages = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert packages == {"airlines"}, f"top-level entries besides airlines: {packages}"
    assert "airlines/__init__.py" in names
    assert "airlines/contract/event.py" in names
    assert not [n for n in names if "airlines_testkit" in n]
    sources = {n: wheel.read(n).decode() for n in names if n.endswith(".py")}
    assert entries_of_test_support(names, sources) == []
