"""The facts of the one cluster localkube runs: addresses, ranges, ports, versions.

Every other module takes them from here, so a CIDR or a port is written once.
The address ranges are chosen to stay inside this machine (see :mod:`localkube.net`):
pods get 10.244.0.0/24 on a bridge the harness creates, Services 10.96.0.0/12 routed
onto that bridge, and the node's own address is the bridge's gateway address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from localkube import paths

#: The Kubernetes the cluster runs (= K8S_VERSION of scripts/setup-cluster-tools.sh).
K8S_VERSION = "v1.36.3"


@dataclass(frozen=True)
class Spec:
    """Where everything of one cluster lives and listens."""

    state: Path = field(default_factory=paths.state_dir)
    bin: Path = field(default_factory=paths.bin_dir)
    #: containerd's content store and snapshots: kept between runs so images are
    #: imported once (``down`` removes every container, never the images).
    containerd_root: Path = field(
        default_factory=lambda: paths.cache_dir() / "localkube" / "containerd"
    )
    node_name: str = "localkube"
    bridge: str = "cni0"
    pod_cidr: str = "10.244.0.0/24"
    service_cidr: str = "10.96.0.0/12"
    cluster_domain: str = "cluster.local"
    apiserver_port: int = 6443
    etcd_client_port: int = 2379
    etcd_peer_port: int = 2380
    kubelet_port: int = 10250
    kubelet_healthz_port: int = 10248
    controller_manager_port: int = 10257
    scheduler_port: int = 10259
    proxy_healthz_port: int = 10256
    proxy_metrics_port: int = 10249

    # --- derived addresses -------------------------------------------------------------
    @property
    def node_ip(self) -> str:
        """The bridge's own address: pods' gateway, the API server's and kubelet's address."""
        return str(next(ipaddress.ip_network(self.pod_cidr).hosts()))

    @property
    def bridge_cidr(self) -> str:
        return f"{self.node_ip}/{ipaddress.ip_network(self.pod_cidr).prefixlen}"

    @property
    def kubernetes_service_ip(self) -> str:
        """First Service address: the ``kubernetes`` Service in ``default``."""
        return str(ipaddress.ip_network(self.service_cidr).network_address + 1)

    @property
    def dns_service_ip(self) -> str:
        return str(ipaddress.ip_network(self.service_cidr).network_address + 10)

    @property
    def apiserver_url(self) -> str:
        return f"https://{self.node_ip}:{self.apiserver_port}"

    # --- files ---------------------------------------------------------------------------
    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def pids(self) -> Path:
        return self.state / "pids"

    @property
    def run(self) -> Path:
        """Sockets."""
        return self.state / "run"

    @property
    def containerd_socket(self) -> Path:
        return self.run / "containerd.sock"

    @property
    def containerd_state(self) -> Path:
        return self.state / "containerd"

    @property
    def cni_conf_dir(self) -> Path:
        return self.state / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.state / "cni" / "ipam"

    @property
    def kubelet_dir(self) -> Path:
        return self.state / "kubelet"

    @property
    def etcd_dir(self) -> Path:
        return self.state / "etcd"

    @property
    def storage_dir(self) -> Path:
        """Where the local-path provisioner creates PersistentVolumes."""
        return self.state / "storage"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (``KUBECONFIG`` for kubectl, helm and the e2e tests)."""
        return self.state / "kubeconfig"

    def exe(self, name: str) -> Path:
        return self.bin / name

    @property
    def sandbox_image(self) -> str:
        from localkube.images import cluster_ref

        return cluster_ref("pause")
