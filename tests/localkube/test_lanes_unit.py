"""The e2e lanes: every e2e test file runs in exactly one lane, and the lanes' exit
statuses combine the way a single pytest run's would (no test at all is a failure)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from localkube import lanes, paths


def test_every_e2e_test_file_is_in_exactly_one_lane() -> None:
    files = sorted(
        str(p.relative_to(paths.REPO)) for p in (paths.REPO / "tests" / "e2e").glob("test_*.py")
    )
    assigned = sorted(path for lane in lanes.LANES for path in lane.paths)
    assert assigned == files


def test_statuses_combine_like_one_run() -> None:
    assert lanes.combined_status({"lifecycle": 0, "side": 0}) == 0
    assert lanes.combined_status({"lifecycle": 1, "side": 0}) == 1
    assert lanes.combined_status({"lifecycle": 0, "side": 2}) == 2
    # -k selecting tests of one lane only: the other lane's "no tests" is fine ...
    assert lanes.combined_status({"lifecycle": 0, "side": lanes.NO_TESTS}) == 0
    # ... but nothing selected anywhere is a failure, as pytest's own exit 5 is.
    assert lanes.combined_status({"lifecycle": 5, "side": 5}) == lanes.NO_TESTS


def test_lanes_run_side_by_side_each_with_its_prefix_and_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two real pytest processes over tiny test files, one passing, one failing."""
    (tmp_path / "logs" / "failed" / "test_old").mkdir(parents=True)
    (tmp_path / "test_a.py").write_text("def test_a():\n    pass\n")
    (tmp_path / "test_b.py").write_text("def test_b():\n    assert False\n")
    two = (
        lanes.Lane("one", (str(tmp_path / "test_a.py"),)),
        lanes.Lane("two", (str(tmp_path / "test_b.py"),)),
    )

    def command(lane: lanes.Lane, extra: Sequence[str]) -> list[str]:
        return [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            *lane.paths,
        ]

    status = lanes.run(
        tmp_path / "kubeconfig", log_dir=tmp_path / "logs", lanes=two, command=command
    )
    assert status == 1
    assert "1 passed" in (tmp_path / "logs" / "pytest-one.log").read_text()
    # A previous run's failures were cleared before this run started.
    assert not (tmp_path / "logs" / "failed").exists()
    assert "1 failed" in (tmp_path / "logs" / "pytest-two.log").read_text()
    out = capsys.readouterr().out
    assert any(line.startswith("[one] ") and "1 passed" in line for line in out.splitlines())
    assert any(line.startswith("[two] ") and "1 failed" in line for line in out.splitlines())
