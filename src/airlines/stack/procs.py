"""Starting, finding and stopping the stack's own processes, and only those.

A pid file holds the pid *and* the process start time (``/proc/<pid>/stat``), so a
recycled pid is never mistaken for one of ours. ``leftovers`` finds any java or
redis-server process whose working directory or command line lies in the stack
directory (every process the stack starts has one), for ``stack down`` to verify
nothing is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

#: Processes this Python process started, kept so they are reaped (no zombies).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}

_PROC = Path("/proc")
_OUR_PROGRAMS = ("java", "redis-server", "redis-check-aof", "redis-check-rdb")


@dataclass(frozen=True)
class ProcessRecord:
    """A process we started: its pid and start time (clock ticks since boot)."""

    pid: int
    start_ticks: int

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "startTicks": self.start_ticks})

    @classmethod
    def from_json(cls, text: str) -> ProcessRecord:
        data = json.loads(text)
        return cls(pid=int(data["pid"]), start_ticks=int(data["startTicks"]))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (2nd field) is in parentheses and may contain spaces.
    return raw[raw.rindex(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def _reap(pid: int) -> bool:
    """Collect the exit status if ``pid`` is our child that has exited; True if it has."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return False
        del _CHILDREN[pid]
        return True
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie does not count)."""
    if _reap(pid):
        return False
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def is_running(record: ProcessRecord) -> bool:
    """True if the recorded process (same pid, same start time) still runs."""
    return pid_alive(record.pid) and start_ticks(record.pid) == record.start_ticks


def exit_code(pid: int) -> int | None:
    """Exit code of a child of this process that has exited (None if unknown)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll()
    return None


def spawn(
    argv: list[str],
    *,
    cwd: Path,
    output: Path,
    env: Mapping[str, str] | None = None,
) -> ProcessRecord:
    """Start ``argv`` in its own session (it outlives us), stdout+stderr appended to ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("ab") as out:
        child = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[child.pid] = child
    ticks = start_ticks(child.pid)
    if ticks is None:  # exited already; the caller's readiness check reports it
        ticks = -1
    return ProcessRecord(child.pid, ticks)


def write_pid_file(path: Path, record: ProcessRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(record.to_json())
    tmp.replace(path)


def read_pid_file(path: Path) -> ProcessRecord | None:
    try:
        return ProcessRecord.from_json(path.read_text())
    except (OSError, ValueError, KeyError):
        return None


def send(record: ProcessRecord, sig: int) -> bool:
    """Signal the process if it is still the one recorded; False if it is gone."""
    if not is_running(record):
        return False
    try:
        os.kill(record.pid, sig)
    except ProcessLookupError:
        return False
    return True


def wait_gone(records: Iterable[ProcessRecord], timeout: float) -> list[ProcessRecord]:
    """Wait until the processes exit; return those still running after ``timeout``."""
    pending = list(records)
    deadline = time.monotonic() + timeout
    while True:
        pending = [r for r in pending if is_running(r)]
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(0.1)


def stop(records: Mapping[str, ProcessRecord], timeout: float) -> list[str]:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; returns the names that needed SIGKILL."""
    for record in records.values():
        send(record, signal.SIGTERM)
    remaining = wait_gone(records.values(), timeout)
    killed = [name for name, record in records.items() if record in remaining]
    for record in remaining:
        send(record, signal.SIGKILL)
    still = wait_gone(remaining, 10)
    if still:
        pids = ", ".join(str(r.pid) for r in still)
        raise RuntimeError(f"processes {pids} survived SIGKILL")
    return killed


def _in_dir(path: str, root: str) -> bool:
    path = path.removesuffix(" (deleted)")
    return path == root or path.startswith(root + os.sep)


def leftovers(root: Path) -> list[int]:
    """Pids of java/redis-server processes running from (or configured in) ``root``."""
    root_text = str(root.resolve())
    found = []
    me = os.getpid()
    for entry in _PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        pid = int(entry.name)
        try:
            program = os.path.basename(os.readlink(entry / "exe"))
            if not program.startswith(_OUR_PROGRAMS):
                continue
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if (_in_dir(cwd, root_text) or root_text + os.sep in cmdline) and pid_alive(pid):
            found.append(pid)
    return sorted(found)


def kill_pids(pids: Iterable[int], timeout: float = 10) -> None:
    """SIGTERM then SIGKILL processes found by :func:`leftovers`."""
    records = {}
    for pid in pids:
        ticks = start_ticks(pid)
        if ticks is not None:
            records[str(pid)] = ProcessRecord(pid, ticks)
    if records:
        stop(records, timeout)
