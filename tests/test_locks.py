"""The lock files agree with pyproject.toml, and every install uses them with hashes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from airlines import locks

ROOT = locks.REPO


@pytest.mark.parametrize("lock", locks.LOCKS, ids=lambda lock: lock.name)
def test_the_lock_is_current(lock: locks.LockSet) -> None:
    """Its inputs digest is that of pyproject.toml now, every direct pin is locked at the
    same version, and every package has hashes (else: make lock)."""
    assert locks.problems(lock) == []


def test_the_locks_hold_the_direct_pins_and_their_dependencies() -> None:
    runtime = locks.pins(locks.LOCKS[0].path.read_text())
    test = locks.pins(locks.LOCKS[1].path.read_text())
    assert runtime["confluent-kafka"] == "2.16.1"
    assert "pyspark" not in runtime  # the job image's Spark comes from its base image
    assert test["pyspark"] == "4.2.0"  # the test extra names the spark extra
    # transitive ones: pydantic's core, starlette under fastapi, the build requirements
    assert {"pydantic-core", "starlette", "setuptools", "wheel"} <= runtime.keys()
    assert runtime.items() <= test.items()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """pyproject.toml and the locks, where they can be altered."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def test_a_pin_changed_in_pyproject_is_caught(copy: Path) -> None:
    pyproject = copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"orjson==3.13.0"', '"orjson==3.12.0"'))
    runtime = locks.problems(locks.LOCKS[0], copy)
    assert any("inputs-sha256" in p for p in runtime)
    assert "requirements/runtime.txt: orjson is 3.13.0; wanted orjson==3.12.0" in runtime


def test_a_dependency_added_to_pyproject_is_caught(copy: Path) -> None:
    pyproject = copy / "pyproject.toml"
    text = pyproject.read_text().replace(
        '"pytest==9.2.0",', '"pytest==9.2.0",\n  "tomli-w==1.2.0",'
    )
    pyproject.write_text(text)
    assert locks.problems(locks.LOCKS[0], copy) == []  # not the runtime set's
    found = locks.problems(locks.LOCKS[1], copy)
    assert "requirements/test.txt: tomli-w is not in the lock (run make lock)" in found


def test_a_lock_edited_by_hand_is_caught(copy: Path) -> None:
    lock = copy / "requirements" / "runtime.txt"
    text = lock.read_text()
    # a version changed by hand, its hashes dropped
    edited = re.sub(
        r"^(pyyaml==)6\.0\.3 \\\n(    --hash=\S+( \\)?\n)+", r"\g<1>6.0.2\n", text, flags=re.M
    )
    assert edited != text
    lock.write_text(edited)
    found = locks.problems(locks.LOCKS[0], copy)
    assert "requirements/runtime.txt: pyyaml is 6.0.2; wanted pyyaml==6.0.3" in found
    assert "requirements/runtime.txt: pyyaml has no hash" in found


def test_every_install_uses_a_lock_with_hashes() -> None:
    """make setup (and so CI) and the images install from a lock, then the project alone."""
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert re.search(r"pip\" install .*--require-hashes -r requirements/test\.txt", setup)
    assert re.search(r"install --no-deps --no-build-isolation -e \.", setup)
    for image in ("producer", "spark-job"):
        dockerfile = (ROOT / "images" / image / "Dockerfile").read_text()
        installs = re.findall(r"pip install ([^\\&\n]*)", dockerfile)
        assert installs, image
        for args in installs:
            assert "--require-hashes -r " in args or "--no-deps --no-build-isolation" in args, (
                image,
                args,
            )
        assert re.search(r"--require-hashes -r /\S+/requirements/runtime\.txt", dockerfile)
        assert "--require-hashes -r /tmp/sbom/sbom.txt" in dockerfile, image
