"""What each process of the cluster runs: its command line and its config files.

Pure functions of the :class:`~localkube.spec.Spec` (``render_configs`` writes the
files), so the settings can be read — and unit-tested — in one place. Every listener
binds to loopback or to the node's bridge address, never to all interfaces.

Settings this VM needs (each failed until set; see ``shared/k8s-local.md``):
``failCgroupV1: false`` and ``cgroupDriver: cgroupfs`` for the kubelet,
``restrict_oom_score_adj`` for containerd's CRI, and
``--kubelet-preferred-address-types=InternalIP`` for the API server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from localkube.spec import Spec


@dataclass(frozen=True)
class Component:
    """One process: its name (pid/log file stem), argv and a health URL or socket."""

    name: str
    argv: list[str]
    #: https/http URL whose 200 means ready, or None when readiness is checked otherwise.
    health_url: str | None = None


def containerd_config(spec: Spec) -> str:
    """containerd 1.6 config (version 2): own socket, root, state and CNI directories."""
    return f"""\
version = 2
root = "{spec.containerd_root}"
state = "{spec.containerd_state}"

[grpc]
  address = "{spec.containerd_socket}"

[ttrpc]
  address = "{spec.run / "containerd.sock.ttrpc"}"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{spec.state / "containerd-opt"}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{spec.sandbox_image}"
  # The sandbox lacks CAP_SYS_RESOURCE: without this every pod sandbox fails with runc's
  # "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{spec.cni_conf_dir}"
"""


def pod_security_admission(spec: Spec) -> dict[str, object]:
    """Pod Security Standards: ``restricted`` enforced everywhere but kube-system.

    The chart claims restricted security contexts for every pod it creates (the Spark
    Operator's and the Spark driver's and executors' included), so the cluster enforces
    them: a pod that is not restricted is refused, not merely warned about.
    """
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AdmissionConfiguration",
        "plugins": [
            {
                "name": "PodSecurity",
                "configuration": {
                    "apiVersion": "pod-security.admission.config.k8s.io/v1",
                    "kind": "PodSecurityConfiguration",
                    "defaults": {
                        "enforce": "restricted",
                        "enforce-version": "latest",
                        "audit": "restricted",
                        "audit-version": "latest",
                        "warn": "restricted",
                        "warn-version": "latest",
                    },
                    "exemptions": {
                        "usernames": [],
                        "runtimeClasses": [],
                        "namespaces": ["kube-system"],
                    },
                },
            }
        ],
    }


def kubelet_config(spec: Spec) -> dict[str, object]:
    pki = spec.pki
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": spec.node_ip,
        "port": spec.kubelet_port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": spec.kubelet_healthz_port,
        "tlsCertFile": str(pki / "kubelet.crt"),
        "tlsPrivateKeyFile": str(pki / "kubelet.key"),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{spec.containerd_socket}",
        "cgroupDriver": "cgroupfs",
        # Kubernetes 1.36 refuses cgroup v1 hosts unless told otherwise; this VM is one.
        "failCgroupV1": False,
        "failSwapOn": False,
        "clusterDomain": spec.cluster_domain,
        "clusterDNS": [spec.dns_service_ip],
        # Pods never see the host's resolvers or search domains.
        "resolvConf": str(spec.kubelet_dir / "resolv.conf"),
        "podCIDR": spec.pod_cidr,
        "maxPods": 110,
        "serializeImagePulls": False,
        # Images are imported, not pulled: never garbage-collect them during a run.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "200Mi", "nodefs.available": "2%"},
        "protectKernelDefaults": False,
        "makeIPTablesUtilChains": True,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "shutdownGracePeriod": "0s",
        "staticPodPath": "",
        "enableServer": True,
        "localStorageCapacityIsolation": True,
    }


def kube_proxy_config(spec: Spec) -> dict[str, object]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(spec.pki / "kube-proxy.conf")},
        "hostnameOverride": spec.node_name,
        "mode": "iptables",
        "clusterCIDR": spec.pod_cidr,
        "bindAddress": spec.node_ip,
        "healthzBindAddress": f"127.0.0.1:{spec.proxy_healthz_port}",
        "metricsBindAddress": f"127.0.0.1:{spec.proxy_metrics_port}",
        # NodePorts only on the bridge address, never on this machine's other interfaces.
        "nodePortAddresses": [f"{spec.node_ip}/32"],
        # Leave the host's conntrack sysctls alone.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }


def render_configs(spec: Spec) -> None:
    """Write every config file the components read (idempotent)."""
    spec.containerd_state.mkdir(parents=True, exist_ok=True)
    spec.run.mkdir(parents=True, exist_ok=True)
    spec.containerd_root.mkdir(parents=True, exist_ok=True)
    (spec.state / "containerd.toml").write_text(containerd_config(spec))
    spec.kubelet_dir.mkdir(parents=True, exist_ok=True)
    (spec.kubelet_dir / "resolv.conf").write_text("")
    _dump(spec.kubelet_dir / "config.yaml", kubelet_config(spec))
    _dump(spec.state / "kube-proxy.yaml", kube_proxy_config(spec))
    _dump(spec.state / "admission.yaml", pod_security_admission(spec))


def _dump(path: Path, doc: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def components(spec: Spec) -> list[Component]:
    """The processes in start order (``down`` stops them in reverse)."""
    pki = spec.pki
    node_ip = spec.node_ip
    etcd_url = f"http://127.0.0.1:{spec.etcd_client_port}"
    return [
        Component(
            "containerd",
            ["containerd", "--config", str(spec.state / "containerd.toml")],
        ),
        Component(
            "etcd",
            [
                str(spec.exe("etcd")),
                "--name=localkube",
                f"--data-dir={spec.etcd_dir}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{spec.etcd_peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{spec.etcd_peer_port}",
                f"--initial-cluster=localkube=http://127.0.0.1:{spec.etcd_peer_port}",
                "--listen-metrics-urls=",
                "--quota-backend-bytes=2147483648",
                "--log-level=warn",
            ],
            health_url=f"{etcd_url}/health",
        ),
        Component(
            "kube-apiserver",
            [
                str(spec.exe("kube-apiserver")),
                f"--advertise-address={node_ip}",
                f"--bind-address={node_ip}",
                f"--secure-port={spec.apiserver_port}",
                f"--etcd-servers={etcd_url}",
                f"--service-cluster-ip-range={spec.service_cidr}",
                f"--service-account-issuer=https://kubernetes.default.svc.{spec.cluster_domain}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
                f"--kubelet-certificate-authority={pki / 'ca.crt'}",
                "--kubelet-preferred-address-types=InternalIP",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                f"--admission-control-config-file={spec.state / 'admission.yaml'}",
                "--allow-privileged=true",
                "--profiling=false",
                "--v=1",
            ],
            health_url=f"{spec.apiserver_url}/readyz",
        ),
        Component(
            "kube-controller-manager",
            [
                str(spec.exe("kube-controller-manager")),
                f"--kubeconfig={pki / 'controller-manager.conf'}",
                f"--authentication-kubeconfig={pki / 'controller-manager.conf'}",
                f"--authorization-kubeconfig={pki / 'controller-manager.conf'}",
                "--bind-address=127.0.0.1",
                f"--secure-port={spec.controller_manager_port}",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={spec.service_cidr}",
                "--use-service-account-credentials=true",
                "--leader-elect=false",
                "--profiling=false",
            ],
            health_url=f"https://127.0.0.1:{spec.controller_manager_port}/healthz",
        ),
        Component(
            "kube-scheduler",
            [
                str(spec.exe("kube-scheduler")),
                f"--kubeconfig={pki / 'scheduler.conf'}",
                f"--authentication-kubeconfig={pki / 'scheduler.conf'}",
                f"--authorization-kubeconfig={pki / 'scheduler.conf'}",
                "--bind-address=127.0.0.1",
                f"--secure-port={spec.scheduler_port}",
                "--leader-elect=false",
                "--profiling=false",
            ],
            health_url=f"https://127.0.0.1:{spec.scheduler_port}/healthz",
        ),
        Component(
            "kubelet",
            [
                str(spec.exe("kubelet")),
                f"--config={spec.kubelet_dir / 'config.yaml'}",
                f"--kubeconfig={pki / 'kubelet.conf'}",
                f"--root-dir={spec.kubelet_dir / 'root'}",
                f"--hostname-override={spec.node_name}",
                f"--node-ip={node_ip}",
                "--v=1",
            ],
            health_url=f"http://127.0.0.1:{spec.kubelet_healthz_port}/healthz",
        ),
        Component(
            "kube-proxy",
            [str(spec.exe("kube-proxy")), f"--config={spec.state / 'kube-proxy.yaml'}"],
            health_url=f"http://127.0.0.1:{spec.proxy_healthz_port}/healthz",
        ),
        Component("kube-router", kube_router_argv(spec)),
    ]


def kube_router_argv(spec: Spec) -> list[str]:
    """kube-router as the NetworkPolicy controller only (iptables + ipset on the node):
    no routing, no service proxy (kube-proxy's), no CNI config (the bridge plugin's).

    Its health and metrics servers would listen on every interface, so both are off;
    ``cluster.up`` waits for its iptables chains instead (:func:`localkube.net.firewall_ready`).
    """
    return [
        str(spec.exe("kube-router")),
        f"--kubeconfig={spec.pki / 'kube-router.conf'}",
        f"--hostname-override={spec.node_name}",
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        "--enable-cni=false",
        "--enable-pod-egress=false",
        "--enable-ipv4=true",
        "--enable-ipv6=false",
        f"--service-cluster-ip-range={spec.service_cidr}",
        "--health-port=0",
        "--metrics-port=0",
        "--v=1",
    ]


def cni_conflist_json(spec: Spec) -> str:
    """For tests: the CNI config as containerd reads it."""
    from localkube.net import cni_config

    return json.dumps(cni_config(spec))
