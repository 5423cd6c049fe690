"""Starting, finding and stopping the stack's own processes, and only those.

A pid file holds the pid, the start time and the command line of a process we started;
a process counts as ours only while all three still match, so a recycled pid is never
signalled. ``leftovers`` finds any java or redis-server process whose working directory
or command line lies in the stack directory (every process the stack starts has one),
for ``stack down`` to verify nothing is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from airlines.waiting import poll

#: Processes this Python process started, kept so they are reaped (no zombies) and
#: their exit codes stay known.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}

_OUR_PROGRAMS = ("java", "redis-server", "redis-check-aof", "redis-check-rdb")

#: How far a process's start time may drift from the recorded one (seconds). psutil
#: derives it from the boot time, which follows the wall clock; a recycled pid would
#: also have to run the same program and start within this span to be mistaken.
_START_TOLERANCE = 1.0


def program_of(command: Sequence[str]) -> str:
    """The program a command line runs: the base name of its first word.

    redis-server rewrites its command line into a title ("redis-server 127.0.0.1:7000"),
    so only the first word is compared, not the whole command line.
    """
    first = command[0].split(" ", 1)[0] if command else ""
    return os.path.basename(first)


@dataclass(frozen=True)
class ProcessRecord:
    """A process we started: its pid, start time and the command line it was given."""

    pid: int
    started: float  # seconds since the epoch (psutil's create_time)
    command: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "started": self.started, "command": list(self.command)})

    @classmethod
    def from_json(cls, text: str) -> ProcessRecord:
        data = json.loads(text)
        return cls(
            pid=int(data["pid"]),
            started=float(data["started"]),
            command=tuple(str(word) for word in data["command"]),
        )

    @classmethod
    def of(cls, pid: int) -> ProcessRecord | None:
        """The record of the running process ``pid`` (None if there is none)."""
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                return cls(pid, process.create_time(), tuple(process.cmdline()))
        except psutil.Error:
            return None


def this_process() -> ProcessRecord:
    """The record of the calling process."""
    record = ProcessRecord.of(os.getpid())
    assert record is not None  # this process runs
    return record


def _reaped(pid: int) -> bool:
    """True if ``pid`` is our child and has exited (its exit status is collected)."""
    child = _CHILDREN.get(pid)
    return child is not None and child.poll() is not None


def _live(record: ProcessRecord) -> psutil.Process | None:
    """The recorded process if it still runs (same pid, start time and program)."""
    if _reaped(record.pid):
        return None
    try:
        process = psutil.Process(record.pid)
        with process.oneshot():
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            if abs(process.create_time() - record.started) > _START_TOLERANCE:
                return None
            command = process.cmdline()
            # Empty while the kernel is still loading the program (Popen has returned
            # once the exec began): the start time alone says it is ours then.
            if command and program_of(command) != program_of(record.command):
                return None
    except psutil.Error:
        return None
    return process


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie does not count)."""
    if _reaped(pid):
        return False
    try:
        status: str = psutil.Process(pid).status()
    except psutil.Error:
        return False
    return bool(status != psutil.STATUS_ZOMBIE)


def is_running(record: ProcessRecord) -> bool:
    """True if the recorded process (same pid, start time and program) still runs."""
    return _live(record) is not None


def exit_code(pid: int) -> int | None:
    """Exit code of a child of this process that has exited (None if unknown)."""
    child = _CHILDREN.get(pid)
    return child.poll() if child is not None else None


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
    try:
        started = psutil.Process(child.pid).create_time()
    except psutil.Error:  # exited and reaped already; the caller's readiness check reports it
        started = -1.0
    return ProcessRecord(child.pid, started, tuple(argv))


def write_pid_file(path: Path, record: ProcessRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(record.to_json())
    tmp.replace(path)


def read_pid_file(path: Path) -> ProcessRecord | None:
    try:
        return ProcessRecord.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def send(record: ProcessRecord, sig: int) -> bool:
    """Signal the process if it is still the one recorded; False if it is gone."""
    process = _live(record)
    if process is None:
        return False
    try:
        process.send_signal(sig)
    except psutil.NoSuchProcess:
        return False
    return True


def wait_gone(records: Iterable[ProcessRecord], timeout: float) -> list[ProcessRecord]:
    """Wait until the processes exit; return those still running after ``timeout``."""
    # Polled rather than psutil.wait_procs: that would reap our children behind their
    # Popen objects and lose their exit codes.
    pending = list(records)

    def still_running() -> list[ProcessRecord] | None:
        nonlocal pending
        pending = [r for r in pending if is_running(r)]
        return pending or None

    return poll(still_running, deadline=time.monotonic() + timeout, interval=0.1) or []


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
    return path == root or path.startswith(root + os.sep)


def leftovers(root: Path) -> list[int]:
    """Pids of java/redis-server processes running from (or configured in) ``root``."""
    root_text = str(root.resolve())
    me = os.getpid()
    found = []
    for process in psutil.process_iter(["exe", "cwd", "cmdline", "status"]):
        info = process.info
        program = os.path.basename(info["exe"] or "")
        if process.pid == me or not program.startswith(_OUR_PROGRAMS):
            continue
        if info["status"] == psutil.STATUS_ZOMBIE or _reaped(process.pid):
            continue
        command = " ".join(info["cmdline"] or ())
        if _in_dir(info["cwd"] or "", root_text) or root_text + os.sep in command:
            found.append(process.pid)
    return sorted(found)


def kill_pids(pids: Iterable[int], timeout: float = 10) -> None:
    """SIGTERM then SIGKILL processes found by :func:`leftovers`."""
    records = {str(r.pid): r for r in map(ProcessRecord.of, pids) if r is not None}
    if records:
        stop(records, timeout)
