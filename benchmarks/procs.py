"""CPU time and memory of the processes behind a benchmark, read with psutil.

A Spark job's work is spread over the driver's Python, the JVM it launched and the
Python workers the JVM forks, and only the sum over that tree says what the job costs.
The Kafka brokers are found by the ports they listen on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psutil

#: What marks a Spark executor's JVM on its command line (standalone/local-cluster).
EXECUTOR_MAIN = "CoarseGrainedExecutorBackend"

_MIB = 2**20


def listening_pids(ports: Iterable[int]) -> dict[int, int]:
    """The process listening on each TCP port (of those found: others' are invisible)."""
    wanted = set(ports)
    return {
        connection.laddr.port: connection.pid
        for connection in psutil.net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN
        and connection.laddr
        and connection.laddr.port in wanted
        and connection.pid is not None
    }


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of the processes (all their threads) so far."""
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:  # gone, or not ours to read
            continue
        total += times.user + times.system
    return total


def _tree(root: int | None) -> list[psutil.Process]:
    """``root`` (default: this process) and every live process below it."""
    try:
        process = psutil.Process(root)
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


def tree_cpu_seconds(root: int | None = None) -> float:
    """CPU seconds (user + system) used so far by ``root``'s tree (default: this process),
    its reaped children included."""
    total = 0.0
    for process in _tree(root):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


@dataclass(frozen=True)
class Rss:
    """Resident memory of a process tree (MiB): the driver's side (this Python process,
    the driver JVM, its Python workers) and the executors' (their JVMs and workers)."""

    driver_mib: float
    executor_mib: float

    @property
    def total_mib(self) -> float:
        return self.driver_mib + self.executor_mib


def _is_executor(process: psutil.Process) -> bool:
    try:
        return any(EXECUTOR_MAIN in word for word in process.cmdline())
    except psutil.Error:
        return False


def tree_rss(root: int | None = None) -> Rss:
    """Resident memory of ``root``'s tree (default: this process), executors apart."""
    processes = _tree(root)
    executors = {
        member.pid
        for process in processes
        if _is_executor(process)
        for member in _tree(process.pid)
    }
    driver = executor = 0
    for process in processes:
        try:
            resident = process.memory_info().rss
        except psutil.Error:
            continue
        if process.pid in executors:
            executor += resident
        else:
            driver += resident
    return Rss(driver / _MIB, executor / _MIB)
