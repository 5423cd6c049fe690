"""CPU time of the local processes behind a benchmark (e.g. the Kafka brokers), from /proc."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

_LISTEN = "0A"


def listening_pids(ports: Iterable[int]) -> dict[int, int]:
    """The process listening on each TCP port (of those found: others' are invisible)."""
    wanted = set(ports)
    inodes: dict[str, int] = {}  # socket inode -> port
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if fields[3] == _LISTEN and port in wanted:
                inodes[fields[9]] = port
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    found[inodes[target[8:-1]]] = int(entry.name)
        except OSError:  # gone, or not ours to read
            continue
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of the processes (all their threads) so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total
