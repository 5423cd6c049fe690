"""TCP reachability probes between pods, for proving NetworkPolicies.

A probe pod is a restricted pod of the project's CLI image that sleeps; :func:`reaches`
runs one TCP connect from it (``kubectl exec``) and says whether it was accepted. Every
"cannot reach" a test asserts is paired with the same probe from a pod that is allowed,
so a broken probe or a target that does not listen cannot pass as isolation.
"""

from __future__ import annotations

from typing import Any

import yaml
from tests.e2e.kube import PRODUCER_IMAGE, Kube

#: Exit 0 and print "open" when the connection is accepted; exit 3 otherwise.
_CONNECT = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))"
    ".close()\n"
    "except OSError as exc:\n"
    "    print('closed', type(exc).__name__, exc)\n"
    "    sys.exit(3)\n"
    "print('open')\n"
)


def probe_pod(
    name: str, namespace: str, labels: dict[str, str], command: list[str] | None = None
) -> dict[str, Any]:
    """A restricted pod (Pod Security ``restricted`` is enforced) with ``labels``."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
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
                    "command": command or ["python", "-c", "import time; time.sleep(10**9)"],
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


def start(
    kube: Kube,
    name: str,
    namespace: str,
    labels: dict[str, str],
    command: list[str] | None = None,
) -> str:
    """Start a probe pod and wait until it is Ready; its IP."""
    manifest = probe_pod(name, namespace, labels, command)
    kube.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest))
    kube.kubectl(
        "-n", namespace, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=120s",
        timeout=150,
    )  # fmt: skip
    return str(kube.json("-n", namespace, "get", "pod", name)["status"]["podIP"])


def reaches(kube: Kube, namespace: str, pod: str, host: str, port: int, seconds: float = 3) -> bool:
    """Whether a TCP connection from ``pod`` to ``host:port`` is accepted."""
    done = kube.run(
        ["kubectl", "-n", namespace, "exec", pod, "--", "python", "-c", _CONNECT,
         host, str(port), str(seconds)],
        check=False,
        timeout=60,
    )  # fmt: skip
    if done.returncode not in (0, 3):
        raise AssertionError(f"probe in {namespace}/{pod} failed: {done.stderr.strip()}")
    return done.returncode == 0


def delete(kube: Kube, namespace: str, *pods: str) -> None:
    kube.kubectl(
        "-n", namespace, "delete", "pod", *pods, "--ignore-not-found", "--wait=false",
        check=False,
    )  # fmt: skip
