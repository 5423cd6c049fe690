"""CPU time and memory of a process and everything it started (the JVM, Python workers).

Read from ``/proc`` (Linux): a Spark job's work is spread over the driver's Python, the
JVM it launched and the Python workers the JVM forks, and only the sum says what the job
costs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    return text[text.rindex(")") + 2 :].split()


def descendants(root: int) -> list[int]:
    """``root`` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(root: int | None = None) -> float:
    """CPU seconds (user + system) used so far by ``root``'s tree, reaped children included."""
    total = 0
    for pid in descendants(root if root is not None else os.getpid()):
        fields = _stat(pid)
        if fields is not None:
            # utime, stime, cutime, cstime: fields 14-17 of stat (11-14 after the name).
            total += sum(int(f) for f in fields[11:15])
    return total / _TICKS


#: What marks a Spark executor's JVM on its command line (standalone/local-cluster).
EXECUTOR_MAIN = "CoarseGrainedExecutorBackend"


@dataclass(frozen=True)
class Rss:
    """Resident memory of a process tree (MiB): the driver's side (this Python process,
    the driver JVM, its Python workers) and the executors' (their JVMs and workers)."""

    driver_mib: float
    executor_mib: float

    @property
    def total_mib(self) -> float:
        return self.driver_mib + self.executor_mib


def rss(root: int | None = None) -> Rss:
    top = root if root is not None else os.getpid()
    executors: set[int] = set()
    for pid in descendants(top):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if EXECUTOR_MAIN.encode() in cmdline:
            executors.update(descendants(pid))
    driver = executor = 0
    for pid in descendants(top):
        fields = _stat(pid)
        if fields is None:
            continue
        pages = int(fields[21])  # rss: field 24 of stat
        if pid in executors:
            executor += pages
        else:
            driver += pages
    return Rss(driver * _PAGE / 2**20, executor * _PAGE / 2**20)
