"""The cluster harness's pure parts: addresses, certificates, containment rules, the
components' settings and the chart dependency placement. Nothing here starts a cluster
(``make e2e`` does, and its tests check the running cluster)."""

from __future__ import annotations

import io
import ipaddress
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from localkube import chartdeps, cluster, components, net, pki
from localkube.paths import REPO as REPO_ROOT
from localkube.spec import Spec

HERE = Path(__file__).resolve()


@pytest.fixture
def spec(tmp_path: Path) -> Spec:
    return Spec(
        state=tmp_path / "state", bin=tmp_path / "bin", containerd_root=tmp_path / "containerd"
    )


def test_addresses_derive_from_the_ranges(spec: Spec) -> None:
    assert spec.node_ip == "10.244.0.1"
    assert spec.bridge_cidr == "10.244.0.1/24"
    assert spec.kubernetes_service_ip == "10.96.0.1"
    assert spec.dns_service_ip == "10.96.0.10"
    assert ipaddress.ip_address(spec.node_ip) in ipaddress.ip_network(spec.pod_cidr)
    assert spec.apiserver_url == "https://10.244.0.1:6443"


# --- certificates --------------------------------------------------------------------------


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_every_certificate_is_signed_by_the_ca_with_its_identity(spec: Spec) -> None:
    pki.ensure(spec)
    ca = _cert(spec.pki / "ca.crt")
    for identity in pki.identities(spec):
        cert = _cert(spec.pki / f"{identity.stem}.crt")
        cert.verify_directly_issued_by(ca)
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert cn == identity.common_name
        orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        assert orgs == ([identity.organization] if identity.organization else [])
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert (ExtendedKeyUsageOID.CLIENT_AUTH in usages) == identity.client
        assert (ExtendedKeyUsageOID.SERVER_AUTH in usages) == identity.server


def test_the_api_server_answers_to_every_name_pods_and_kubectl_use(spec: Spec) -> None:
    pki.ensure(spec)
    sans = (
        _cert(spec.pki / "apiserver.crt")
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert {spec.node_ip, spec.kubernetes_service_ip} <= ips
    assert "kubernetes.default.svc.cluster.local" in sans.get_values_for_type(x509.DNSName)


def test_the_kubelet_is_a_node_for_the_node_authorizer(spec: Spec) -> None:
    pki.ensure(spec)
    subject = _cert(spec.pki / "kubelet-client.crt").subject
    assert subject.rfc4514_string() == "CN=system:node:localkube,O=system:nodes"


def test_ensure_keeps_an_existing_ca_and_writes_working_kubeconfigs(spec: Spec) -> None:
    pki.ensure(spec)
    first = (spec.pki / "ca.crt").read_bytes()
    pki.ensure(spec)
    assert (spec.pki / "ca.crt").read_bytes() == first
    config = yaml.safe_load(spec.kubeconfig.read_text())
    assert config["clusters"][0]["cluster"]["server"] == spec.apiserver_url
    assert spec.kubeconfig.stat().st_mode & 0o077 == 0  # credentials: owner only
    for name in pki.KUBECONFIGS:
        assert (spec.pki / name).exists()


# --- containment -----------------------------------------------------------------------------


def test_containment_accepts_cluster_traffic_and_drops_the_rest(spec: Spec) -> None:
    ruleset = net.containment_ruleset(spec)
    forward = ruleset[ruleset.index("chain forward") : ruleset.index("chain input")]
    inbound = ruleset[ruleset.index("chain input") :]
    # Hooked before iptables' filter chains (kube-proxy's), so nothing can reorder it.
    assert "type filter hook forward priority filter - 10; policy accept;" in forward
    assert "type filter hook input priority filter - 10; policy accept;" in inbound
    rules = [line.strip() for line in forward.splitlines() if line.strip().startswith("ip ")]
    assert rules[0].startswith(
        f"ip saddr {spec.pod_cidr} ip daddr {{ {spec.pod_cidr}, {spec.service_cidr} }} accept"
    )
    assert rules[1].startswith(f"ip saddr {spec.pod_cidr} counter drop")
    assert rules[2].startswith(f"ip daddr {spec.pod_cidr} counter drop")
    rules = [line.strip() for line in inbound.splitlines() if line.strip().startswith("ip ")]
    assert rules[0].startswith(f"ip saddr {spec.pod_cidr} ip daddr {spec.node_ip} accept")
    assert rules[1].startswith(f"ip saddr {spec.pod_cidr} counter drop")
    assert net._expected_rule_counts(spec) == {"forward": 3, "input": 2}


def test_pods_get_no_masquerading_and_the_harness_bridge(spec: Spec) -> None:
    plugins: list[dict[str, Any]] = net.cni_config(spec)["plugins"]  # type: ignore[assignment]
    (bridge,) = plugins
    assert bridge["type"] == "bridge"
    assert bridge["bridge"] == spec.bridge
    assert bridge["ipMasq"] is False
    assert bridge["ipam"]["ranges"] == [[{"subnet": spec.pod_cidr, "gateway": spec.node_ip}]]
    assert bridge["ipam"]["dataDir"].startswith(str(spec.state))


def test_mount_points_are_read_from_mountinfo() -> None:
    # Fields from a real /proc/self/mountinfo of this VM (a netns dir bound onto itself).
    mountinfo = (
        "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        "44 27 254:0 /run/netns /run/netns rw,relatime shared:3 - ext4 /dev/vda rw\n"
        "46 44 0:4 net:[4026532178] /run/netns/cni-1 rw shared:3 - nsfs nsfs rw\n"
        "50 27 0:40 / /mnt/with\\040space rw - tmpfs tmpfs rw\n"
    )
    points = net.mount_points(mountinfo)
    assert points == {"/", "/run/netns", "/run/netns/cni-1", "/mnt/with space"}


def test_no_component_listens_on_all_interfaces(spec: Spec) -> None:
    allowed = {"127.0.0.1", spec.node_ip}
    for component in components.components(spec):
        for arg in component.argv:
            for host in re.findall(r"(?:https?://)?(\d+\.\d+\.\d+\.\d+)", arg):
                if "cluster-ip-range" in arg:
                    continue
                assert host in allowed, f"{component.name}: {arg}"
    kubelet = components.kubelet_config(spec)
    assert kubelet["address"] == spec.node_ip
    assert kubelet["healthzBindAddress"] == "127.0.0.1"
    assert kubelet["readOnlyPort"] == 0
    proxy = components.kube_proxy_config(spec)
    assert proxy["nodePortAddresses"] == [f"{spec.node_ip}/32"]
    assert str(proxy["healthzBindAddress"]).startswith("127.0.0.1:")
    assert 'stream_server_address = "127.0.0.1"' in components.containerd_config(spec)


def test_the_settings_this_vm_needs(spec: Spec) -> None:
    kubelet = components.kubelet_config(spec)
    assert kubelet["failCgroupV1"] is False
    assert kubelet["cgroupDriver"] == "cgroupfs"
    assert kubelet["clusterDNS"] == [spec.dns_service_ip]
    containerd = components.containerd_config(spec)
    assert "restrict_oom_score_adj = true" in containerd
    assert f'sandbox_image = "{spec.sandbox_image}"' in containerd
    assert f'address = "{spec.containerd_socket}"' in containerd
    (apiserver,) = [c for c in components.components(spec) if c.name == "kube-apiserver"]
    assert "--kubelet-preferred-address-types=InternalIP" in apiserver.argv


def test_pods_see_no_host_resolver_and_restricted_is_enforced(spec: Spec) -> None:
    components.render_configs(spec)
    resolv = Path(str(components.kubelet_config(spec)["resolvConf"]))
    assert resolv.read_text() == ""
    admission = components.pod_security_admission(spec)
    config = admission["plugins"][0]["configuration"]  # type: ignore[index]
    assert config["defaults"]["enforce"] == "restricted"
    assert config["exemptions"]["namespaces"] == ["kube-system"]
    addon = (Path(components.__file__).parent / "addons" / "coredns.yaml").read_text()
    (config_map,) = [d for d in yaml.safe_load_all(addon) if d["kind"] == "ConfigMap"]
    corefile = config_map["data"]["Corefile"]
    assert "kubernetes" in corefile
    assert "forward" not in corefile  # names outside the cluster are never looked up


def test_kube_router_enforces_network_policies_only(spec: Spec) -> None:
    """kube-router runs as the NetworkPolicy controller alone (kube-proxy proxies, the
    bridge plugin routes), opens no listener, and reads the API as a user of its own
    whose ClusterRole only reads."""
    (router,) = [c for c in components.components(spec) if c.name == "kube-router"]
    assert components.components(spec)[-1].name == "kube-router"  # last up, first down
    args = set(router.argv[1:])
    for flag in (
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        "--enable-cni=false",
        "--health-port=0",
        "--metrics-port=0",
        f"--service-cluster-ip-range={spec.service_cidr}",
        f"--hostname-override={spec.node_name}",
    ):
        assert flag in args, flag
    assert router.health_url is None
    assert "kube-router" in cluster.REQUIRED_BINARIES
    identity = {i.stem: i for i in pki.identities(spec)}["kube-router"]
    assert identity.common_name == "system:kube-router"
    assert pki.KUBECONFIGS["kube-router.conf"] == "kube-router"
    rbac = list(yaml.safe_load_all((cluster.ADDONS / "kube-router-rbac.yaml").read_text()))
    (role,) = [d for d in rbac if d["kind"] == "ClusterRole"]
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule
    (binding,) = [d for d in rbac if d["kind"] == "ClusterRoleBinding"]
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:kube-router"}
    ]
    # Its ipsets are found and removed with the rest (names as kube-router makes them).
    assert all(
        name.startswith(net.IPSET_PREFIXES)
        for name in ("KUBE-SRC-ABC", "KUBE-DST-ABC", "inet6:KUBE-SRC-ABC")
    )


# --- the chart's remote dependency -----------------------------------------------------------


def test_the_committed_operator_chart_is_what_chart_lock_pins() -> None:
    """The package is where ``helm dependency build`` puts it, is the name and version
    Chart.lock pins, and its digest is the one its checksum file records."""
    ((name, version),) = chartdeps.remote_dependencies()
    (package,) = chartdeps.verify()
    assert package == chartdeps.CHART / "charts" / f"{name}-{version}.tgz"
    meta = chartdeps.chart_yaml(package)
    assert (meta["name"], str(meta["version"])) == (name, version)
    assert chartdeps.sha256(package) == chartdeps.recorded_sha256(package)
    assert re.fullmatch(r"[0-9a-f]{64}", chartdeps.recorded_sha256(package))


def _package(path: Path, name: str, version: str) -> None:
    data = yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version}).encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(f"{name}/Chart.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def chart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the chart's Chart.lock and of its committed package and checksum."""
    copy = tmp_path / "chart"
    (copy / "charts").mkdir(parents=True)
    shutil.copy(chartdeps.CHART / "Chart.lock", copy / "Chart.lock")
    for package in chartdeps.verify():
        shutil.copy(package, copy / "charts" / package.name)
        shutil.copy(chartdeps.checksum_path(package), copy / "charts")
    monkeypatch.setattr(chartdeps, "CHART", copy)
    return copy


def test_an_altered_package_is_refused(chart: Path) -> None:
    ((name, version),) = chartdeps.remote_dependencies()
    package = chart / "charts" / f"{name}-{version}.tgz"
    with package.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(chartdeps.DependencyError, match="its checksum file records"):
        chartdeps.verify()


def test_a_package_of_another_version_is_refused(chart: Path) -> None:
    ((name, version),) = chartdeps.remote_dependencies()
    package = chart / "charts" / f"{name}-{version}.tgz"
    _package(package, name, "9.9.9")
    chartdeps.checksum_path(package).write_text(f"{chartdeps.sha256(package)}  {package.name}\n")
    with pytest.raises(chartdeps.DependencyError, match=r"Chart\.lock pins"):
        chartdeps.verify()


def test_a_missing_package_or_checksum_says_so(chart: Path) -> None:
    ((name, version),) = chartdeps.remote_dependencies()
    package = chart / "charts" / f"{name}-{version}.tgz"
    chartdeps.checksum_path(package).unlink()
    with pytest.raises(chartdeps.DependencyError, match="checksum"):
        chartdeps.verify()
    package.unlink()
    with pytest.raises(chartdeps.DependencyError, match="helm dependency build"):
        chartdeps.verify()


def test_nothing_reads_from_outside_the_repository() -> None:
    """No script, harness module or test reaches for a directory beside the clone or an
    absolute path of one machine."""
    patterns = ("shared/vendor", "AIRLINES_VENDOR_DIR", "/work/")
    roots = ["scripts", "localkube", "tests", "src", "jobs", "benchmarks", "images", "Makefile"]
    offenders = []
    for root in roots:
        base = REPO_ROOT / root
        files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
        for file in files:
            if file.suffix in {".pyc", ".tgz"} or ".egg-info" in str(file) or file == HERE:
                continue
            text = file.read_text(errors="replace")
            offenders += [f"{file.relative_to(REPO_ROOT)}: {p}" for p in patterns if p in text]
    assert offenders == []


def test_the_harness_and_the_build_script_agree_on_the_kubernetes_version() -> None:
    from localkube.paths import REPO
    from localkube.spec import K8S_VERSION

    script = (REPO / "scripts" / "setup-cluster-tools.sh").read_text()
    (pinned,) = re.findall(r"^K8S_VERSION=(\S+)$", script, re.MULTILINE)
    assert pinned == K8S_VERSION


def test_stopped_containers_count_as_stopped() -> None:
    listing = (
        "TASK                                                                PID      STATUS    \n"
        "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0    0        STOPPED   \n"
        "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90    41213    RUNNING   \n"
        "b1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90    41250    PAUSED    \n"
    )
    assert cluster.running_tasks(listing) == [
        "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "b1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
    ]
    assert cluster.running_tasks("TASK    PID    STATUS    \n") == []
