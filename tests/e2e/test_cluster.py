"""The e2e cluster itself: what it promises before any chart is installed.

Its version, a default StorageClass whose claims bind, Pod Security ``restricted``
enforced, cluster DNS, and network containment proven with a real connection: a host in
a network namespace this test creates (198.18.0.2, a benchmarking range) answers this
machine but must never hear from a pod, and NetworkPolicies enforced (kube-router).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from tests.e2e.kube import PRODUCER_IMAGE, Kube, wait_until

from localkube import net
from localkube.spec import K8S_VERSION

NAMESPACE = "e2e-cluster"
OUTSIDE_NS = "lk-e2e-outside"
HOST_SIDE, OUTSIDE = "198.18.0.1", "198.18.0.2"
PORT = 18080

pytestmark = pytest.mark.timeout(600)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def namespace(kube: Kube) -> Iterator[str]:
    kube.kubectl("create", "namespace", NAMESPACE)
    try:
        yield NAMESPACE
    finally:
        kube.kubectl("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=180s", timeout=200)


def _probe_pod(name: str, script: str) -> dict[str, Any]:
    """A restricted pod running a Python one-shot script (the project's CLI image)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "probe",
                    "image": PRODUCER_IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["python", "-c", script],
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "64Mi"},
                        "limits": {"cpu": "500m", "memory": "128Mi"},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def _run_probe(kube: Kube, name: str, script: str) -> tuple[str, str]:
    """Run the probe to completion; its phase and log."""
    kube.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(_probe_pod(name, script)))

    def finished() -> str | None:
        phase = kube.json("-n", NAMESPACE, "get", "pod", name)["status"].get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    phase = wait_until(f"pod {name} finished", finished, 120)
    return phase, kube.kubectl("-n", NAMESPACE, "logs", name)


def test_the_cluster_runs_the_pinned_kubernetes(kube: Kube) -> None:
    version = json.loads(kube.kubectl("version", "-o", "json"))
    assert version["serverVersion"]["gitVersion"] == K8S_VERSION
    (node,) = kube.json("get", "nodes")["items"]
    assert node["status"]["nodeInfo"]["kubeletVersion"] == K8S_VERSION


def test_the_default_storage_class_binds_claims(kube: Kube, namespace: str) -> None:
    classes = kube.json("get", "storageclass")["items"]
    defaults = [
        c["metadata"]["name"]
        for c in classes
        if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class")
        == "true"
    ]
    assert defaults == ["local-path"]
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "probe", "namespace": namespace},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "16Mi"}}},
    }
    kube.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(claim))
    pod = _probe_pod("writer", "open('/data/x', 'w').write('ok'); print(open('/data/x').read())")
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "probe"}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    kube.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(pod))
    wait_until(
        "the claim Bound",
        lambda: kube.json("-n", namespace, "get", "pvc", "probe")["status"].get("phase") == "Bound",
        120,
    )
    wait_until(
        "the writer done",
        lambda: (
            kube.json("-n", namespace, "get", "pod", "writer")["status"].get("phase") == "Succeeded"
        ),
        120,
    )
    assert kube.kubectl("-n", namespace, "logs", "writer").strip() == "ok"


def test_pod_security_restricted_is_enforced(kube: Kube, namespace: str) -> None:
    pod = _probe_pod("privileged", "print('should not run')")
    pod["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    done = kube.run(["kubectl", "apply", "-f", "-"], stdin=yaml.safe_dump(pod), check=False)
    assert done.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in done.stderr, done.stderr


def test_cluster_dns_answers_cluster_names_only(kube: Kube, namespace: str) -> None:
    script = (
        "import socket\n"
        "print('cluster', socket.gethostbyname('kubernetes.default.svc.cluster.local'))\n"
        "try:\n"
        "    socket.getaddrinfo('pypi.org', 443)\n"
        "    print('outside resolved')\n"
        "except socket.gaierror as exc:\n"
        "    print('outside unresolved', exc)\n"
    )
    phase, log = _run_probe(kube, "dns", script)
    assert phase == "Succeeded", log
    assert f"cluster {kube.spec.kubernetes_service_ip}" in log
    assert "outside unresolved" in log, log


@pytest.fixture
def outside_host() -> Iterator[list[str]]:
    """A host in a network namespace of our own, reachable from this machine: it records
    every connection it accepts."""
    _ip("netns", "add", OUTSIDE_NS)
    try:
        _ip("link", "add", "lk-out-h", "type", "veth", "peer", "name", "lk-out-n")
        _ip("link", "set", "lk-out-n", "netns", OUTSIDE_NS)
        _ip("addr", "add", f"{HOST_SIDE}/30", "dev", "lk-out-h")
        _ip("link", "set", "lk-out-h", "up")
        _ip("-n", OUTSIDE_NS, "addr", "add", f"{OUTSIDE}/30", "dev", "lk-out-n")
        _ip("-n", OUTSIDE_NS, "link", "set", "lk-out-n", "up")
        _ip("-n", OUTSIDE_NS, "link", "set", "lo", "up")
        # Answers pods too if anything forwarded them here (it must not).
        _ip("-n", OUTSIDE_NS, "route", "add", "default", "via", HOST_SIDE)
        listener = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                OUTSIDE_NS,
                sys.executable,
                "-u",
                "-c",
                "import socket\n"
                "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                f"s.bind(('{OUTSIDE}', {PORT})); s.listen(16); print('listening', flush=True)\n"
                "while True:\n"
                "    c, peer = s.accept(); print('from', peer[0], flush=True); c.close()\n",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        seen: list[str] = []
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == "listening"
        stdout = listener.stdout

        def record() -> None:
            for line in stdout:
                seen.append(line.strip())

        threading.Thread(target=record, daemon=True).start()
        try:
            yield seen
        finally:
            listener.terminate()
            listener.wait(10)
    finally:
        subprocess.run(["ip", "link", "delete", "lk-out-h"], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "delete", OUTSIDE_NS], capture_output=True, check=False)


def test_pods_cannot_reach_beyond_the_cluster(
    kube: Kube, namespace: str, outside_host: list[str]
) -> None:
    assert not net.containment_problems(kube.spec)
    # This machine reaches the outside host: the listener works ...
    with socket.create_connection((OUTSIDE, PORT), timeout=5):
        pass
    wait_until("the host's connection recorded", lambda: f"from {HOST_SIDE}" in outside_host, 10)
    # ... a pod does not: the containment drops its packets at the node.
    script = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('{OUTSIDE}', {PORT}), timeout=5)\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print('blocked', type(exc).__name__)\n"
    )
    phase, log = _run_probe(kube, "escape", script)
    assert phase == "Succeeded", log
    assert "blocked" in log, log
    assert outside_host == [f"from {HOST_SIDE}"], outside_host


def test_pods_running_before_an_ip_netns_add_still_tear_down(kube: Kube, namespace: str) -> None:
    """``ip netns add`` bind-mounts /run/netns onto itself unless it already is a mount
    point; done after pods started, it shadowed their namespaces, which then could not be
    deleted: the pods hung in Terminating and ``down`` left namespaces behind."""
    pod = _probe_pod("before-netns", "import time; time.sleep(3600)")
    kube.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(pod))
    wait_until(
        "the pod running",
        lambda: (
            kube.json("-n", NAMESPACE, "get", "pod", "before-netns")["status"].get("phase")
            == "Running"
        ),
        120,
    )
    _ip("netns", "add", "lk-e2e-late")
    try:
        kube.kubectl(
            "-n", NAMESPACE, "delete", "pod", "before-netns", "--grace-period=1", "--wait=false"
        )
        wait_until(
            "the pod gone",
            lambda: (
                not kube.kubectl(
                    "-n",
                    NAMESPACE,
                    "get",
                    "pod",
                    "before-netns",
                    "--ignore-not-found",
                    "-o",
                    "name",
                ).strip()
            ),
            60,
        )
    finally:
        subprocess.run(["ip", "netns", "delete", "lk-e2e-late"], capture_output=True, check=False)


#: A TCP server on port 8080 that accepts and closes every connection.
_SERVER = [
    "python",
    "-c",
    "import socketserver\n"
    "class H(socketserver.BaseRequestHandler):\n"
    "    def handle(self): pass\n"
    "socketserver.TCPServer(('0.0.0.0', 8080), H).serve_forever()\n",
]


def _policy(name: str, spec: dict[str, Any]) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": spec,
        }
    )


def test_network_policies_are_enforced(kube: Kube, namespace: str) -> None:
    """The cluster's NetworkPolicy controller (kube-router) enforces ingress and egress
    policies, selectively: a deny closes a flow, an allow for a label reopens it for that
    label only, and removing the policies opens everything again."""
    from tests.e2e import netprobe

    server = netprobe.start(kube, "np-server", namespace, {"role": "server"}, _SERVER)
    netprobe.start(kube, "np-client", namespace, {"role": "client"})
    netprobe.start(kube, "np-other", namespace, {"role": "other"})

    def reach(pod: str) -> bool:
        return netprobe.reaches(kube, namespace, pod, server, 8080)

    try:
        # Without policies both reach the server (the probe and the server work) ...
        assert reach("np-client")
        assert reach("np-other")
        # ... a default deny of the server's ingress closes it for both ...
        deny = {"podSelector": {"matchLabels": {"role": "server"}}, "policyTypes": ["Ingress"]}
        kube.kubectl("apply", "-f", "-", stdin=_policy("deny-server", deny))
        wait_until("the server closed to np-client", lambda: not reach("np-client"), 60)
        assert not reach("np-other")
        # ... an allow for the client's label reopens it for the client only ...
        allow = {
            "podSelector": {"matchLabels": {"role": "server"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                    "ports": [{"port": 8080, "protocol": "TCP"}],
                }
            ],
        }
        kube.kubectl("apply", "-f", "-", stdin=_policy("allow-client", allow))
        wait_until("the server open to np-client", lambda: reach("np-client"), 60)
        assert not reach("np-other")
        # ... and an egress deny on the client closes it from the client's side too.
        egress = {"podSelector": {"matchLabels": {"role": "client"}}, "policyTypes": ["Egress"]}
        kube.kubectl("apply", "-f", "-", stdin=_policy("deny-client-egress", egress))
        wait_until("np-client's egress closed", lambda: not reach("np-client"), 60)
        # Without the policies, everything is open again.
        kube.kubectl("-n", namespace, "delete", "networkpolicy", "--all")
        wait_until("the server open to np-other again", lambda: reach("np-other"), 60)
        assert reach("np-client")
    finally:
        kube.kubectl("-n", namespace, "delete", "networkpolicy", "--all", check=False)
        netprobe.delete(kube, namespace, "np-server", "np-client", "np-other")
