"""The e2e tests in two lanes, run side by side against one cluster.

* ``lifecycle``: the cluster's own promises, then the minikube release's life, in order
  (tests/e2e/test_install.py, test_least_privilege.py, test_analytics.py,
  test_lifecycle.py: one release, in that order);
* ``side``: the dev and production environments (each a release in a namespace of its
  own), then the images (checked with buildah, beside the cluster).

Most of an install's time is waiting (probes, pod starts, the job's first batches), so
the lanes overlap well even on two cores. Each lane is a plain pytest process (module
fixtures keep their scope); their lines are printed as they come, prefixed with the
lane's name, and each lane's whole output is kept in ``.e2e/logs/pytest-<lane>.log``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from localkube import paths

#: pytest's exit status when it selected no test (``-k`` matched nothing in a lane).
NO_TESTS = 5


@dataclass(frozen=True)
class Lane:
    name: str
    paths: tuple[str, ...]


#: Balanced by measured time (warm, the two lanes together): the cluster's
#: promises (~0.7 min) and the minikube release's life (~12.5) against two environment
#: installs (~11 in all) and the images (~1).
LANES = (
    Lane(
        "lifecycle",
        (
            "tests/e2e/test_cluster.py",
            "tests/e2e/test_install.py",
            "tests/e2e/test_least_privilege.py",
            "tests/e2e/test_analytics.py",
            "tests/e2e/test_lifecycle.py",
        ),
    ),
    Lane("side", ("tests/e2e/test_environments.py", "tests/e2e/test_images.py")),
)


def argv(lane: Lane, extra: Sequence[str] = ()) -> list[str]:
    # --durations: where the time goes, test by test.
    return [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "e2e",
        "-v",
        "--durations=0",
        "--durations-min=5",
        *lane.paths,
        *extra,
    ]


def combined_status(statuses: Mapping[str, int]) -> int:
    """0 if every lane passed; a lane that selected nothing is fine only beside one that
    ran tests (``-k`` for one test); otherwise the first failure's status."""
    ran = [s for s in statuses.values() if s != NO_TESTS]
    if not ran:
        return NO_TESTS
    return next((s for s in ran if s != 0), 0)


def run(
    kubeconfig: Path,
    extra: Sequence[str] = (),
    log_dir: Path | None = None,
    lanes: Sequence[Lane] = LANES,
    command: Callable[[Lane, Sequence[str]], list[str]] = argv,
) -> int:
    """Run every lane at once; stream their output; return the combined status."""
    logs = log_dir if log_dir is not None else paths.REPO / ".e2e" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    # What failed tests save (tests/e2e/conftest.py) describes this run only.
    shutil.rmtree(logs / "failed", ignore_errors=True)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    width = max(len(lane.name) for lane in lanes)
    statuses: dict[str, int] = {}
    processes: list[tuple[Lane, subprocess.Popen[str]]] = []
    try:
        for lane in lanes:
            process = subprocess.Popen(
                command(lane, extra),
                cwd=paths.REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
            )
            processes.append((lane, process))
        pumps = [
            threading.Thread(
                target=_pump,
                args=(process, f"[{lane.name:<{width}}] ", logs / f"pytest-{lane.name}.log"),
                daemon=True,
            )
            for lane, process in processes
        ]
        for pump in pumps:
            pump.start()
        for lane, process in processes:
            statuses[lane.name] = process.wait()
        for pump in pumps:
            pump.join()
    finally:
        for _, process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(60)
    for name, status in statuses.items():
        print(f"lane {name}: pytest exited {status}", flush=True)
    return combined_status(statuses)


def _pump(process: subprocess.Popen[str], prefix: str, log: Path) -> None:
    assert process.stdout is not None
    with log.open("w") as out:
        for line in process.stdout:
            out.write(line)
            out.flush()
            sys.stdout.write(prefix + line)
            sys.stdout.flush()
