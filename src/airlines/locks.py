"""The lock files: every Python package an install set needs, transitive ones included, each
pinned with the sha256 of every distribution file PyPI has for that version.

One lock per install set, for Linux x86_64 / CPython 3.11 (the images, the machines that
run ``make setup``, CI):

- ``requirements/runtime.txt``: the project's dependencies (the images);
- ``requirements/test.txt``: those plus the ``test`` extra (``make setup``, CI);
- ``requirements/sbom.txt``: the SBOM generator that image builds run
  (``requirements/sbom.in``).

The project's own build requirements (``[build-system] requires``) are in the first two,
so the project itself installs with ``pip install --no-deps --no-build-isolation`` and
nothing is fetched unhashed. Installs use ``pip install --require-hashes -r LOCK``.

Each lock starts with the sha256 of its inputs (the direct requirements and the target);
``tests/test_locks.py`` fails when that or a direct pin disagrees with pyproject.toml.
``python -m airlines.locks`` (``make lock``) regenerates the locks with uv.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-manylinux_2_28"
HEADER = "# inputs-sha256: "
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


@dataclass(frozen=True)
class LockSet:
    """One install set: where its direct requirements come from and its lock file."""

    name: str
    #: pyproject.toml's dependencies (and build requirements) with these extras.
    project_extras: tuple[str, ...] | None
    #: Or a requirements file (``.in``) of its own.
    requirements_in: str | None = None

    @property
    def path(self) -> Path:
        return REPO / "requirements" / f"{self.name}.txt"


LOCKS: tuple[LockSet, ...] = (
    LockSet("runtime", ()),
    LockSet("test", ("test",)),
    LockSet("sbom", None, "requirements/sbom.in"),
)


def _pyproject(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    return data


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_requirements(lock: LockSet, root: Path = REPO) -> list[str]:
    """The requirement strings a lock is compiled from (extras that name the project
    itself, as ``test`` names ``airlines-analytics[spark]``, are expanded)."""
    if lock.project_extras is None:
        assert lock.requirements_in is not None
        lines = (root / lock.requirements_in).read_text(encoding="utf-8").splitlines()
        return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]
    data = _pyproject(root)
    project = data["project"]
    own = _canonical(project["name"])
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    out: list[str] = [*data["build-system"]["requires"], *project["dependencies"]]
    pending, seen = list(lock.project_extras), set()
    while pending:
        extra = pending.pop(0)
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in optional[extra]:
            match = re.fullmatch(r"([A-Za-z0-9._-]+)\[([^\]]+)\]", requirement.strip())
            if match and _canonical(match[1]) == own:
                pending += [e.strip() for e in match[2].split(",")]
            else:
                out.append(requirement)
    return out


def input_digest(lock: LockSet, root: Path = REPO) -> str:
    """sha256 of what a lock is compiled from: its direct requirements and the target."""
    inputs = {
        "requirements": sorted(direct_requirements(lock, root)),
        "python": PYTHON_VERSION,
        "platform": PLATFORM,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def pins(text: str) -> dict[str, str]:
    """Canonical name -> version of every package a lock pins."""
    return {_canonical(m[1]): m[2] for line in text.splitlines() if (m := _PIN.match(line.strip()))}


def problems(lock: LockSet, root: Path = REPO) -> list[str]:
    """Every way the lock disagrees with its inputs; empty when it is current."""
    # Lock checks only (tests, `make lock`): packaging is no declared dependency.
    from packaging.requirements import Requirement  # noqa: PLC0415

    path = root / "requirements" / f"{lock.name}.txt"
    if not path.is_file():
        return [f"{path.relative_to(root)}: missing (run make lock)"]
    text = path.read_text(encoding="utf-8")
    where = path.relative_to(root)
    found: list[str] = []
    recorded = next((ln[len(HEADER) :] for ln in text.splitlines() if ln.startswith(HEADER)), "")
    if recorded.strip() != input_digest(lock, root):
        found.append(f"{where}: its inputs-sha256 is not that of its inputs now (run make lock)")
    locked = pins(text)
    for line in direct_requirements(lock, root):
        requirement = Requirement(line)
        name = _canonical(requirement.name)
        version = locked.get(name)
        if version is None:
            found.append(f"{where}: {requirement.name} is not in the lock (run make lock)")
        elif not requirement.specifier.contains(version, prereleases=True):
            found.append(f"{where}: {requirement.name} is {version}; wanted {requirement}")
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    for block in blocks:
        match = _PIN.match(block)
        if match and "--hash=sha256:" not in block:
            found.append(f"{where}: {match[1]} has no hash")
    return found


def compile_lock(lock: LockSet) -> None:
    """Write ``lock`` with uv: every distribution's hash, for the one target."""
    # uv is in the test extra only, never in an image.
    from uv import find_uv_bin  # noqa: PLC0415

    argv = [
        find_uv_bin(), "pip", "compile", "--quiet", "--generate-hashes",
        "--python-version", PYTHON_VERSION, "--python-platform", PLATFORM,
        "--custom-compile-command", "make lock", "--output-file", str(lock.path),
    ]  # fmt: skip
    stdin = ""
    if lock.project_extras is None:
        assert lock.requirements_in is not None
        argv.append(lock.requirements_in)
    else:
        argv.append("pyproject.toml")
        for extra in lock.project_extras:
            argv += ["--extra", extra]
        # The build requirements, so that the project installs without build isolation.
        argv.append("-")
        stdin = "\n".join(_pyproject(REPO)["build-system"]["requires"]) + "\n"
    lock.path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(argv, input=stdin, text=True, cwd=REPO, check=True)
    text = lock.path.read_text(encoding="utf-8")
    lock.path.write_text(f"{HEADER}{input_digest(lock)}\n{text}", encoding="utf-8")


def main() -> int:
    for lock in LOCKS:
        compile_lock(lock)
        print(f"{lock.path.relative_to(REPO)}: {len(pins(lock.path.read_text()))} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
