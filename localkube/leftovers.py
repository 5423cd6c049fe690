"""What a cluster can leave behind on this machine, found and removed.

Killing the processes is not enough (``shared/k8s-local.md``): containers, their
network namespaces and veths, mounts under the kubelet's and containerd's directories,
kube-proxy's and the kubelet's iptables chains and the ``kubepods`` cgroups all outlive
them. :func:`find` lists every kind (the network ones come from :mod:`localkube.net`);
:func:`force_clean` removes them, for ``down`` after a crash or an interrupted ``up``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from airlines.waiting import poll
from localkube import net
from localkube.spec import Spec

_PROC = Path("/proc")
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def _cmdline(pid: int) -> str:
    try:
        return (_PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _exe(pid: int) -> str:
    try:
        return os.readlink(_PROC / str(pid) / "exe")
    except OSError:
        return ""


def _in_kubepods(pid: int) -> bool:
    try:
        return "/kubepods" in (_PROC / str(pid) / "cgroup").read_text()
    except OSError:
        return False


def processes(spec: Spec) -> dict[int, str]:
    """Pids of the cluster's processes (components, shims, containers) -> a description."""
    found: dict[int, str] = {}
    bin_dir = str(spec.bin.resolve())
    state = str(spec.state.resolve())
    socket = str(spec.containerd_socket)
    me = os.getpid()
    for entry in _PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        pid = int(entry.name)
        exe = _exe(pid)
        cmd = _cmdline(pid)
        if not exe:
            continue
        name = os.path.basename(exe.removesuffix(" (deleted)"))
        if (
            exe.startswith(bin_dir + os.sep)
            or (name == "containerd" and state in cmd)
            or (name.startswith("containerd-shim") and socket in cmd)
        ):
            found[pid] = f"{name} (pid {pid})"
        elif _in_kubepods(pid):
            found[pid] = f"container process {name} (pid {pid})"
    return found


def mounts(spec: Spec) -> list[str]:
    """Mount points under the cluster's directories, deepest first."""
    roots = [str(spec.state.resolve()), str(spec.containerd_root.resolve())]
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == r or point.startswith(r + os.sep) for r in roots):
            points.append(point)
    return sorted(set(points), key=lambda p: (-p.count(os.sep), p))


def kubepods_cgroups() -> list[Path]:
    """The kubelet's cgroups (one ``kubepods`` tree per v1 controller), deepest first."""
    found = []
    if _CGROUP_ROOT.is_dir():
        for controller in _CGROUP_ROOT.iterdir():
            top = controller / "kubepods"
            if top.is_dir():
                found += [p for p in top.rglob("*") if p.is_dir()] + [top]
    return sorted(found, key=lambda p: -len(p.parts))


def find(spec: Spec) -> list[str]:
    """Everything of the cluster still on this machine, one line each."""
    found = list(processes(spec).values())
    found += [f"mount {m}" for m in mounts(spec)]
    found += net.leftovers(spec)
    top_level = [p for p in kubepods_cgroups() if p.name == "kubepods"]
    found += [f"cgroup {p}" for p in top_level]
    return found


def kill_processes(spec: Spec, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL, every process :func:`processes` finds."""
    pids = processes(spec)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    poll(
        lambda: [p for p in pids if _alive(p)] or None,
        deadline=time.monotonic() + timeout,
        interval=0.2,
    )
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    try:
        state = (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def force_clean(spec: Spec) -> None:
    """Remove every leftover: processes, mounts, network state, cgroups."""
    kill_processes(spec)
    for point in mounts(spec):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    net.teardown(spec)
    for group in kubepods_cgroups():
        with contextlib.suppress(OSError):  # not empty yet: find() reports it
            group.rmdir()
