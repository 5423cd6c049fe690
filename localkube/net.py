"""Network containment: the cluster talks to itself and to this machine, nothing else.

What keeps it inside (a rule of the machines this project is tested on):

* Pods live on a bridge the harness creates (``cni0``, the pod CIDR, gateway = the
  node's address) and get no masquerading (the CNI bridge plugin runs with
  ``ipMasq: false``): a packet that left would carry an address nobody routes back.
* The Service CIDR is routed onto that bridge, so a Service address the host sends to
  never follows the default route out (a blackhole route would break the API server
  calling a webhook Service).
* The nftables table ``inet localkube`` (its own table, hooked before iptables' filter
  chains, so neither kube-proxy nor the kubelet can reorder it; a drop there is final)
  accepts forwarded pod traffic to pods and Services and drops every other forwarded
  packet from or to the pod range, and lets pods reach this machine on the node address
  only (API server, kubelet), not on its other addresses.
* kube-router (firewall only) enforces NetworkPolicies with iptables chains
  (``KUBE-ROUTER-*``, ``KUBE-POD-FW-*``, ``KUBE-NWPLCY-*``) and ipsets; the bridge
  passes bridged pod-to-pod packets through iptables (``bridge-nf-call-iptables``).
* CoreDNS answers cluster names only (no ``forward`` to the host's resolver), and the
  kubelet gives pods an empty host resolv.conf.

Pods' network namespaces are nsfs mounts in ``/run/netns``. :func:`setup` makes that
directory a shared bind mount of itself before containerd starts, as ``ip netns add``
would: if ``ip netns add`` did it later (a test's own namespace), its recursive bind
would copy and shadow the mounts of the pods already running, and their namespaces
could never be deleted ("unlinkat ...: device or resource busy"): the pods would hang
in Terminating and the namespaces outlive the cluster.

:func:`teardown` removes all of it, plus the chains kube-proxy and the kubelet create
(``KUBE-*``, in iptables) and the ipsets kube-router creates, and :func:`leftovers`
reports anything still there.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from localkube.spec import Spec

CHAIN_PREFIXES = ("KUBE-", "CNI-")
#: kube-router's ipsets (``inet6:`` is its prefix of the IPv6 twin of a set).
IPSET_PREFIXES = ("KUBE-", "kube-router-", "inet6:KUBE-", "inet6:kube-router-")
_BRIDGE_NF = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
_TABLES = ("filter", "nat", "mangle")
_IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
NETNS_DIR = Path("/run/netns")
_MOUNTINFO = Path("/proc/self/mountinfo")


class NetError(RuntimeError):
    """A network change failed; the message names the command and its output."""


def _run(argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise NetError(f"{' '.join(argv)}: {(done.stderr or done.stdout).strip()}")
    return done


TABLE = "localkube"


def containment_ruleset(spec: Spec) -> str:
    """The nftables table that keeps pod traffic inside (``nft -f`` input)."""
    pods, services, node = spec.pod_cidr, spec.service_cidr, spec.node_ip
    return f"""\
table inet {TABLE} {{
    chain forward {{
        type filter hook forward priority filter - 10; policy accept;
        ip saddr {pods} ip daddr {{ {pods}, {services} }} accept comment "pod to pod or Service"
        ip saddr {pods} counter drop comment "pod to anywhere else"
        ip daddr {pods} counter drop comment "anywhere else to a pod"
    }}
    chain input {{
        type filter hook input priority filter - 10; policy accept;
        ip saddr {pods} ip daddr {node} accept comment "pod to the node (API server, kubelet)"
        ip saddr {pods} counter drop comment "pod to this machine's other addresses"
    }}
}}
"""


def cni_config(spec: Spec) -> dict[str, object]:
    """The CNI network: the bridge plugin on the harness's bridge, no masquerading."""
    return {
        "cniVersion": "1.0.0",
        "name": "localkube",
        "plugins": [
            {
                "type": "bridge",
                "bridge": spec.bridge,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": spec.pod_cidr, "gateway": spec.node_ip}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(spec.cni_ipam_dir),
                },
            }
        ],
    }


def _link_exists(name: str) -> bool:
    return _run(["ip", "link", "show", name], check=False).returncode == 0


def _table_exists() -> bool:
    return _run(["nft", "list", "table", "inet", TABLE], check=False).returncode == 0


def _nft_apply(ruleset: str) -> None:
    done = subprocess.run(
        ["nft", "-f", "-"], input=ruleset, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise NetError(f"nft -f: {done.stderr.strip()}")


def mount_points(mountinfo: str) -> set[str]:
    """The mount points listed in ``/proc/<pid>/mountinfo`` text (field 5, unescaped)."""
    points = set()
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 4:
            points.add(fields[4].replace("\\040", " ").replace("\\011", "\t"))
    return points


def _netns_dir_is_mounted() -> bool:
    return str(NETNS_DIR) in mount_points(_MOUNTINFO.read_text())


def ensure_netns_mount() -> None:
    """Make ``/run/netns`` a shared bind mount of itself, as ``ip netns add`` does
    (iproute2's ``netns_add``), before any pod's namespace is mounted in it."""
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    if not _netns_dir_is_mounted():
        _run(["mount", "--rbind", str(NETNS_DIR), str(NETNS_DIR)])
    _run(["mount", "--make-shared", str(NETNS_DIR)])


def _unshadow_netns() -> None:
    """After a recursive bind over ``/run/netns`` that came too late, namespaces mounted
    before it are hidden below it and cannot be deleted. Detach the bind (only when
    everything in the directory is a pod's), which uncovers them."""
    entries = list(NETNS_DIR.iterdir()) if NETNS_DIR.is_dir() else []
    if entries and all(e.name.startswith("cni-") for e in entries) and _netns_dir_is_mounted():
        _run(["umount", "-l", str(NETNS_DIR)], check=False)


def setup(spec: Spec) -> None:
    """Bridge, Service route, containment chains, forwarding, CNI config (idempotent)."""
    ensure_netns_mount()
    if not _link_exists(spec.bridge):
        _run(["ip", "link", "add", spec.bridge, "type", "bridge"])
    _run(["ip", "addr", "replace", spec.bridge_cidr, "dev", spec.bridge])
    _run(["ip", "link", "set", spec.bridge, "up"])
    _run(["ip", "route", "replace", spec.service_cidr, "dev", spec.bridge])
    if _table_exists():
        _run(["nft", "delete", "table", "inet", TABLE])
    _nft_apply(containment_ruleset(spec))
    saved = spec.state / "net" / "ip_forward.before"
    if not saved.exists():
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(_IP_FORWARD.read_text().strip())
    _IP_FORWARD.write_text("1")
    # Pods on one bridge talk at layer 2: only with this do their packets pass iptables'
    # FORWARD chain, where kube-router's NetworkPolicy chains are.
    if not _BRIDGE_NF.exists():
        raise NetError(f"{_BRIDGE_NF} missing: the kernel lacks br_netfilter")
    if _BRIDGE_NF.read_text().strip() != "1":
        raise NetError(
            f"{_BRIDGE_NF} is 0: NetworkPolicies would not apply between pods on the bridge"
            " (sysctl -w net.bridge.bridge-nf-call-iptables=1)"
        )
    spec.cni_conf_dir.mkdir(parents=True, exist_ok=True)
    conf = spec.cni_conf_dir / "10-localkube.conflist"
    conf.write_text(json.dumps(cni_config(spec), indent=2))


def containment_problems(spec: Spec) -> list[str]:
    """What is wrong with the containment in place (empty: the table we set up is there,
    hooked before iptables' filter chains, with all its rules)."""
    done = _run(["nft", "-j", "list", "table", "inet", TABLE], check=False)
    if done.returncode != 0:
        return [f"nftables table inet {TABLE} is missing"]
    items = json.loads(done.stdout)["nftables"]
    chains = {i["chain"]["name"]: i["chain"] for i in items if "chain" in i}
    rules: dict[str, int] = {}
    for item in items:
        if "rule" in item:
            rules[item["rule"]["chain"]] = rules.get(item["rule"]["chain"], 0) + 1
    expected = _expected_rule_counts(spec)
    problems = []
    for name, count in expected.items():
        chain = chains.get(name)
        if chain is None or chain.get("hook") != name or int(chain.get("prio", 0)) >= 0:
            problems.append(f"chain {name}: not hooked to {name} before iptables' filter")
        elif rules.get(name, 0) != count:
            problems.append(f"chain {name}: {rules.get(name, 0)} rules, expected {count}")
    return problems


def _expected_rule_counts(spec: Spec) -> dict[str, int]:
    counts: dict[str, int] = {}
    chain = ""
    for line in containment_ruleset(spec).splitlines():
        words = line.split()
        if words[:1] == ["chain"]:
            chain = words[1]
        elif words[:2] == ["ip", "saddr"] or words[:2] == ["ip", "daddr"]:
            counts[chain] = counts.get(chain, 0) + 1
    return counts


def firewall_ready() -> bool:
    """kube-router has hooked its NetworkPolicy chains into iptables' filter table."""
    rules = _run(["iptables", "-w", "-t", "filter", "-S"], check=False).stdout.splitlines()
    hooks = {line.split()[1] for line in rules if line.startswith("-A ") and "KUBE-ROUTER-" in line}
    return {"INPUT", "FORWARD", "OUTPUT"} <= hooks


def ipsets() -> list[str]:
    """kube-router's ipsets still on this machine."""
    if shutil.which("ipset") is None:
        return []
    names = _run(["ipset", "list", "-n"], check=False).stdout.split()
    return sorted(n for n in names if n.startswith(IPSET_PREFIXES))


# --- teardown and leftovers ------------------------------------------------------------


@dataclass(frozen=True)
class ChainRef:
    tool: str  # iptables or ip6tables
    table: str
    chain: str


def _our_chains(tool: str) -> list[ChainRef]:
    found = []
    for table in _TABLES:
        done = _run([tool, "-w", "-t", table, "-S"], check=False)
        for line in done.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "-N" and parts[1].startswith(CHAIN_PREFIXES):
                found.append(ChainRef(tool, table, parts[1]))
    return found


def _remove_chains(tool: str) -> None:
    for table in _TABLES:
        lines = _run([tool, "-w", "-t", table, "-S"], check=False).stdout.splitlines()
        # Rules in any chain that jump to one of ours go first (builtin hooks included).
        for line in lines:
            # As the shell would: kube-router's hooks carry quoted comments with spaces.
            parts = shlex.split(line)
            if parts[:1] == ["-A"] and "-j" in parts:
                target = parts[parts.index("-j") + 1]
                if target.startswith(CHAIN_PREFIXES):
                    _run([tool, "-w", "-t", table, "-D", *parts[1:]], check=False)
        chains = [ref.chain for ref in _our_chains(tool) if ref.table == table]
        for chain in chains:
            _run([tool, "-w", "-t", table, "-F", chain], check=False)
        for chain in chains:
            _run([tool, "-w", "-t", table, "-X", chain], check=False)


def cni_netns() -> list[str]:
    """Network namespaces the container runtime creates for pods (``cni-<uuid>``)."""
    out = _run(["ip", "netns", "list"], check=False).stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.startswith("cni-"))


def teardown(spec: Spec) -> None:
    """Remove everything :func:`setup`, kube-proxy, the kubelet and the CNI plugin made."""
    for ns in cni_netns():
        _run(["ip", "netns", "delete", ns], check=False)
    if cni_netns():
        _unshadow_netns()
        for ns in cni_netns():
            _run(["ip", "netns", "delete", ns], check=False)
    if _link_exists(spec.bridge):
        _run(["ip", "link", "delete", spec.bridge], check=False)
    _run(["ip", "route", "del", spec.service_cidr], check=False)
    for tool in ("iptables", "ip6tables"):
        _remove_chains(tool)
    for name in ipsets():  # referenced by no rule once the chains are gone
        _run(["ipset", "destroy", name], check=False)
    if _table_exists():
        _run(["nft", "delete", "table", "inet", TABLE], check=False)
    saved = spec.state / "net" / "ip_forward.before"
    if saved.exists():
        _IP_FORWARD.write_text(saved.read_text().strip() or "0")
        saved.unlink()


def leftovers(spec: Spec) -> list[str]:
    """Everything network-related of the cluster that is still there, one line each."""
    found = [f"network namespace {ns}" for ns in cni_netns()]
    if _link_exists(spec.bridge):
        found.append(f"bridge {spec.bridge}")
    routes = _run(["ip", "route", "show", spec.service_cidr], check=False).stdout.strip()
    if routes:
        found.append(f"route {routes}")
    links = _run(["ip", "-o", "link", "show", "type", "veth"], check=False).stdout
    for line in links.splitlines():
        if f"master {spec.bridge}" in line:
            found.append(f"veth {line.split(':')[1].strip()}")
    for tool in ("iptables", "ip6tables"):
        found += [f"{r.tool} chain {r.table}/{r.chain}" for r in _our_chains(tool)]
    found += [f"ipset {name}" for name in ipsets()]
    if _table_exists():
        found.append(f"nftables table inet {TABLE}")
    saved = spec.state / "net" / "ip_forward.before"
    if saved.exists():
        found.append(f"net.ipv4.ip_forward not restored (was {saved.read_text().strip()})")
    return found
