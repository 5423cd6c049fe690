"""The benchmarks' CPU, memory and port readings, on real child processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from benchmarks import procs

#: Burns CPU until killed, after touching the file named by its first argument.
BUSY = "import pathlib, sys; pathlib.Path(sys.argv[1]).touch()\nwhile True: pass"
#: Holds ~64 MiB resident (written, so the pages are real), then sleeps.
HOLD = (
    "import pathlib, sys, time; block = bytearray(64 * 2**20); block[::4096] = b'x' * 16384; "
    "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)"
)


def _wait_for(path: Path, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert child.poll() is None, "the child exited"
        assert time.monotonic() < deadline
        time.sleep(0.02)


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for child in started:
        child.kill()
        child.wait()


def _start(
    children: list[subprocess.Popen[bytes]], code: str, ready: Path, *extra: str
) -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, "-c", code, str(ready), *extra])
    children.append(child)
    _wait_for(ready, child)
    return child


def test_cpu_of_a_busy_child_counts_for_it_and_for_our_tree(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    tree_before = procs.tree_cpu_seconds()
    busy = _start(children, BUSY, tmp_path / "busy")
    # However loaded the machine, the child's CPU grows: wait for it (with a deadline).
    deadline = time.monotonic() + 60
    while procs.cpu_seconds([busy.pid]) <= 0.2:
        assert time.monotonic() < deadline, "the busy child's CPU never reached 0.2 s"
        time.sleep(0.05)
    assert procs.tree_cpu_seconds() - tree_before > 0.2
    # a gone process counts nothing, and does not fail the reading
    busy.kill()
    busy.wait()
    assert procs.cpu_seconds([busy.pid]) == 0.0
    assert procs.tree_cpu_seconds(busy.pid) == 0.0


def test_a_reaped_childs_cpu_stays_in_the_tree(tmp_path: Path) -> None:
    before = procs.tree_cpu_seconds()
    spin = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", spin], check=True)
    assert procs.tree_cpu_seconds() - before >= 0.4


def test_rss_splits_executors_from_the_driver(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    before = procs.tree_rss()
    _start(children, HOLD, tmp_path / "driver-side")
    _start(children, HOLD, tmp_path / "executor", procs.EXECUTOR_MAIN)
    after = procs.tree_rss()
    assert after.driver_mib - before.driver_mib > 60
    assert before.executor_mib == 0
    assert 60 < after.executor_mib < 200
    assert after.total_mib == pytest.approx(after.driver_mib + after.executor_mib)


def test_listening_pids_finds_the_listener_of_a_port(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    listen = (
        "import pathlib, socket, sys, time; s = socket.socket(); "
        f"s.bind(('127.0.0.1', {port})); s.listen(); "
        "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)"
    )
    child = _start(children, listen, tmp_path / "listening")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        idle_port = unused.getsockname()[1]  # bound, not listening
        assert procs.listening_pids([port, idle_port]) == {port: child.pid}
    assert os.getpid() not in procs.listening_pids([port]).values()
