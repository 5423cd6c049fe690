"""Bringing the cluster up and down, in order, waiting on conditions with deadlines.

``up`` starts each component only once the one before it answers, so a failure names
the component and the tail of its log; a failed or interrupted ``up`` removes what it
started. ``down`` deletes every pod while the kubelet still runs (so it tears their
sandboxes down itself), stops the processes in reverse order, cleans what they leave
behind and then checks that nothing is left (:mod:`localkube.leftovers`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from string import Template

from airlines.stack import procs
from airlines.waiting import poll
from localkube import components, leftovers, net, pki
from localkube.images import cluster_ref
from localkube.spec import Spec

Progress = Callable[[str], None]
ADDONS = Path(__file__).parent / "addons"
REQUIRED_BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
    "kube-router",
)


class ClusterError(RuntimeError):
    """The cluster could not be brought up or down; the message says what and why."""


# --- preconditions -------------------------------------------------------------------------


def preflight(spec: Spec) -> list[str]:
    """Problems that would stop ``up`` before it starts anything."""
    problems = []
    if os.geteuid() != 0:
        problems.append("localkube must run as root (it creates a bridge, firewall rules, pods)")
    missing = [b for b in REQUIRED_BINARIES if not spec.exe(b).is_file()]
    if missing:
        problems.append(
            f"missing {', '.join(missing)} in {spec.bin}: run scripts/setup-cluster-tools.sh"
        )
    for tool in ("containerd", "ctr", "runc", "iptables", "ipset", "nft", "ip"):
        if shutil.which(tool) is None:
            problems.append(f"{tool} not found: run scripts/setup-cluster-tools.sh")
    if not Path("/usr/lib/cni/bridge").exists():
        problems.append(
            "CNI plugins missing (/usr/lib/cni/bridge): apt-get install containernetworking-plugins"
        )
    ports = {
        "etcd": ("127.0.0.1", spec.etcd_client_port),
        "etcd peer": ("127.0.0.1", spec.etcd_peer_port),
        "kube-controller-manager": ("127.0.0.1", spec.controller_manager_port),
        "kube-scheduler": ("127.0.0.1", spec.scheduler_port),
        "kubelet healthz": ("127.0.0.1", spec.kubelet_healthz_port),
        "kube-proxy healthz": ("127.0.0.1", spec.proxy_healthz_port),
        "kube-proxy metrics": ("127.0.0.1", spec.proxy_metrics_port),
    }
    for name, (host, port) in ports.items():
        if _port_busy(host, port):
            problems.append(f"port {host}:{port} ({name}) is in use by another process")
    return problems


def _port_busy(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


# --- running things --------------------------------------------------------------------------


def kubectl(spec: Spec, *args: str, check: bool = True, timeout: float = 120) -> str:
    """Run kubectl against the cluster as its admin; its stdout."""
    done = subprocess.run(
        [str(spec.exe("kubectl")), f"--kubeconfig={spec.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise ClusterError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def wait_for(
    what: str,
    ready: Callable[[], bool],
    timeout: float,
    *,
    log: Path | None = None,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll ``ready`` until true; fail after ``timeout`` or as soon as ``alive`` is false."""

    def not_ready() -> str | None:
        try:
            if ready():
                return None
        except (OSError, ClusterError, subprocess.SubprocessError):
            pass
        if alive is not None and not alive():
            raise ClusterError(f"{what}: the process exited{_log_tail(log)}")
        return "not ready"

    if poll(not_ready, deadline=time.monotonic() + timeout, interval=0.5):
        raise ClusterError(f"{what}: not ready after {timeout:.0f}s{_log_tail(log)}")


def _log_tail(log: Path | None, lines: int = 15) -> str:
    if log is None or not log.exists():
        return ""
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    return f"\n--- last lines of {log} ---\n" + "\n".join(tail)


def _http_ok(url: str) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # loopback health endpoints of our own processes
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return False


def _ctr(spec: Spec, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ctr", "--address", str(spec.containerd_socket), "-n", "k8s.io", *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


def _start(spec: Spec, component: components.Component, progress: Progress) -> None:
    pid_file = spec.pids / f"{component.name}.pid"
    record = procs.read_pid_file(pid_file)
    if record is not None and procs.is_running(record):
        progress(f"{component.name} already running (pid {record.pid})")
        return
    log = spec.logs / f"{component.name}.log"
    started = time.monotonic()
    record = procs.spawn(component.argv, cwd=spec.state, output=log)
    procs.write_pid_file(pid_file, record)
    alive = lambda: procs.is_running(record)  # noqa: E731
    if component.health_url is not None:
        url = component.health_url
        wait_for(component.name, lambda: _http_ok(url), 180, log=log, alive=alive)
    elif component.name == "containerd":
        wait_for(
            "containerd", lambda: _ctr(spec, "version").returncode == 0, 60, log=log, alive=alive
        )
    elif component.name == "kube-router":
        wait_for(
            "kube-router's NetworkPolicy chains", net.firewall_ready, 120, log=log, alive=alive
        )
    progress(f"{component.name} ready in {time.monotonic() - started:.1f}s (pid {record.pid})")


def _node_ready(spec: Spec) -> bool:
    out = kubectl(spec, "get", "node", spec.node_name, "-o", "json", check=False)
    if not out:
        return False
    conditions = json.loads(out)["status"].get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def apply_addons(spec: Spec, progress: Progress) -> None:
    """CoreDNS and the default StorageClass (local-path), then wait for both."""
    values = {
        "cluster_domain": spec.cluster_domain,
        "dns_service_ip": spec.dns_service_ip,
        "coredns_image": cluster_ref("coredns"),
        "provisioner_image": cluster_ref("local-path-provisioner"),
        "helper_image": cluster_ref("debian"),
        "storage_dir": str(spec.storage_dir),
    }
    spec.storage_dir.mkdir(parents=True, exist_ok=True)
    for name in ("coredns.yaml", "local-path.yaml"):
        manifest = Template((ADDONS / name).read_text()).substitute(values)
        path = spec.state / "addons" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(manifest)
        kubectl(spec, "apply", "--server-side", "-f", str(path))
    for deployment in ("coredns", "local-path-provisioner"):
        kubectl(
            spec,
            "-n",
            "kube-system",
            "rollout",
            "status",
            f"deployment/{deployment}",
            "--timeout=180s",
            timeout=200,
        )
    progress("addons ready: CoreDNS, StorageClass local-path (default)")


# --- up / down -----------------------------------------------------------------------------


@contextmanager
def _undo_on_failure(spec: Spec, progress: Progress) -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    except BaseException:
        progress("start-up failed or was interrupted: stopping what was started")
        down(spec, progress)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def up(spec: Spec, progress: Progress, load_images: Callable[[str], None]) -> None:
    """Start the whole cluster; ``load_images(containerd_address)`` imports the images."""
    problems = preflight(spec)
    if problems:
        raise ClusterError(
            "cannot start the cluster; nothing was started:\n  - " + "\n  - ".join(problems)
        )
    with _undo_on_failure(spec, progress):
        for directory in (spec.logs, spec.pids, spec.run):
            directory.mkdir(parents=True, exist_ok=True)
        pki.ensure(spec)
        components.render_configs(spec)
        net.setup(spec)
        plan = components.components(spec)
        _start(spec, plan[0], progress)  # containerd
        load_images(str(spec.containerd_socket))
        for component in plan[1:]:
            if component.name == "kube-router":
                kubectl(spec, "apply", "--server-side", "-f", str(ADDONS / "kube-router-rbac.yaml"))
            _start(spec, component, progress)
            if component.name == "kubelet":
                wait_for(
                    "node Ready", lambda: _node_ready(spec), 180, log=spec.logs / "kubelet.log"
                )
        problems = net.containment_problems(spec)
        if problems:
            raise ClusterError("network containment: " + "; ".join(problems))
        wait_for(
            "default service account",
            lambda: bool(kubectl(spec, "get", "serviceaccount", "default", check=False)),
            60,
        )
        apply_addons(spec, progress)


def _delete_all_pods(spec: Spec, progress: Progress) -> None:
    """Delete every pod through the API while the kubelet runs, and wait for containers."""
    for name in ("kube-controller-manager", "kube-scheduler"):  # nothing recreates them
        record = procs.read_pid_file(spec.pids / f"{name}.pid")
        if record is not None:
            procs.stop({name: record}, timeout=10)
    kubectl(
        spec,
        "delete",
        "pods",
        "--all",
        "--all-namespaces",
        "--grace-period=2",
        "--wait=false",
        check=False,
    )
    try:
        wait_for("pods gone", lambda: not kubectl(spec, "get", "pods", "-A", "-o", "name"), 90)
        wait_for("containers stopped", lambda: not _running_tasks(spec), 60)
    except ClusterError as exc:
        progress(f"warning: {exc}; removing what is left by force")


def _running_tasks(spec: Spec) -> list[str]:
    return running_tasks(_ctr(spec, "tasks", "ls").stdout)


def running_tasks(listing: str) -> list[str]:
    """Tasks of ``ctr tasks ls`` (TASK PID STATUS) that are not stopped.

    A deleted pod's containers stay listed as STOPPED until the kubelet's garbage
    collection removes them (every minute): waiting for the list to empty waited for that.
    """
    tasks = []
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[2] != "STOPPED":
            tasks.append(fields[0])
    return tasks


def _remove_containers(spec: Spec) -> None:
    for task in _running_tasks(spec):
        _ctr(spec, "tasks", "kill", "-s", "SIGKILL", task)
    poll(lambda: _running_tasks(spec) or None, deadline=time.monotonic() + 30, interval=0.5)
    for task in _ctr(spec, "tasks", "ls", "-q").stdout.split():
        _ctr(spec, "tasks", "delete", "-f", task)
    for container in _ctr(spec, "containers", "ls", "-q").stdout.split():
        _ctr(spec, "containers", "delete", container)


def down(spec: Spec, progress: Progress) -> list[str]:
    """Stop everything and clean up; returns what is still left (empty when clean)."""
    apiserver = procs.read_pid_file(spec.pids / "kube-apiserver.pid")
    kubelet = procs.read_pid_file(spec.pids / "kubelet.pid")
    if apiserver and procs.is_running(apiserver) and kubelet and procs.is_running(kubelet):
        _delete_all_pods(spec, progress)
    plan = components.components(spec)
    containerd_record = procs.read_pid_file(spec.pids / "containerd.pid")
    for component in reversed(plan[1:]):
        record = procs.read_pid_file(spec.pids / f"{component.name}.pid")
        if record is not None and procs.is_running(record):
            procs.stop({component.name: record}, timeout=20)
            progress(f"{component.name} stopped")
    if spec.exe("kube-proxy").exists():
        subprocess.run(
            [
                str(spec.exe("kube-proxy")),
                "--cleanup",
                f"--config={spec.state / 'kube-proxy.yaml'}",
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )
    if containerd_record is not None and procs.is_running(containerd_record):
        _remove_containers(spec)
        procs.stop({"containerd": containerd_record}, timeout=20)
        progress("containerd stopped")
    leftovers.force_clean(spec)
    remaining = leftovers.find(spec)
    if not remaining:
        _remove_state(spec)
        progress("nothing left behind: no process, container, mount, netns, chain or route")
    return remaining


def _remove_state(spec: Spec) -> None:
    """Delete the cluster's files but its logs (kept for the next look)."""
    if not spec.state.exists():
        return
    for child in spec.state.iterdir():
        if child != spec.logs:
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()


def status(spec: Spec) -> dict[str, object]:
    """Which components run, and the node's readiness (for ``localkube status``)."""
    running = {}
    for component in components.components(spec):
        record = procs.read_pid_file(spec.pids / f"{component.name}.pid")
        running[component.name] = bool(record and procs.is_running(record))
    ready = False
    if running.get("kube-apiserver"):
        try:
            ready = _node_ready(spec)
        except (ClusterError, subprocess.SubprocessError, ValueError):
            ready = False
    return {"components": running, "nodeReady": ready, "kubeconfig": str(spec.kubeconfig)}
