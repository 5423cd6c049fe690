"""Network containment: the cluster talks to itself and to this machine, nothing else.

What keeps it inside (a rule of the machines this project is tested on):

* Pods live on a bridge the harness creates (``cni0``, the pod CIDR, gateway = the
  node's address) and get no masquerading (the CNI bridge plugin runs with
  ``ipMasq: false``): a packet that left would carry an address nobody routes back.
* The Service CIDR is routed onto that bridge, so a Service address the host sends to
  never follows the default route out (a blackhole route would break the API server
  calling a webhook Service).
* ``LOCALKUBE-FORWARD`` (first in FORWARD) accepts pod traffic to pods and Services and
  drops every other forwarded packet from or to the pod range.
  ``LOCALKUBE-INPUT`` (first in INPUT) lets pods reach this machine on the node
  address only (API server, kubelet), not on its other addresses.
* CoreDNS answers cluster names only (no ``forward`` to the host's resolver), and the
  kubelet gives pods an empty host resolv.conf.

:func:`teardown` removes all of it, plus the chains kube-proxy and the kubelet create
(``KUBE-*``), and :func:`leftovers` reports anything still there.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from localkube.spec import Spec

CHAIN_PREFIXES = ("LOCALKUBE-", "KUBE-", "CNI-")
_TABLES = ("filter", "nat", "mangle")
_IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


class NetError(RuntimeError):
    """A network change failed; the message names the command and its output."""


def _run(argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise NetError(f"{' '.join(argv)}: {(done.stderr or done.stdout).strip()}")
    return done


def forward_rules(spec: Spec) -> list[list[str]]:
    """Rules of LOCALKUBE-FORWARD, in order (arguments after ``-A LOCALKUBE-FORWARD``)."""
    pods, services = spec.pod_cidr, spec.service_cidr
    return [
        ["-s", pods, "-d", pods, "-j", "ACCEPT"],
        ["-s", pods, "-d", services, "-j", "ACCEPT"],
        ["-s", pods, "-j", "DROP"],
        ["-d", pods, "-j", "DROP"],
    ]


def input_rules(spec: Spec) -> list[list[str]]:
    """Rules of LOCALKUBE-INPUT: pods may reach this machine on the node address only."""
    return [
        ["-s", spec.pod_cidr, "-d", spec.node_ip, "-j", "ACCEPT"],
        ["-s", spec.pod_cidr, "-j", "DROP"],
    ]


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


def _ensure_chain(table: str, chain: str, rules: list[list[str]], hook: str) -> None:
    """(Re)create ``chain`` with ``rules`` and make it the first rule of ``hook``."""
    ipt = ["iptables", "-w", "-t", table]
    if _run([*ipt, "-n", "-L", chain], check=False).returncode != 0:
        _run([*ipt, "-N", chain])
    _run([*ipt, "-F", chain])
    for rule in rules:
        _run([*ipt, "-A", chain, *rule])
    while _run([*ipt, "-D", hook, "-j", chain], check=False).returncode == 0:
        pass
    _run([*ipt, "-I", hook, "1", "-j", chain])


def setup(spec: Spec) -> None:
    """Bridge, Service route, containment chains, forwarding, CNI config (idempotent)."""
    if not _link_exists(spec.bridge):
        _run(["ip", "link", "add", spec.bridge, "type", "bridge"])
    _run(["ip", "addr", "replace", spec.bridge_cidr, "dev", spec.bridge])
    _run(["ip", "link", "set", spec.bridge, "up"])
    _run(["ip", "route", "replace", spec.service_cidr, "dev", spec.bridge])
    _ensure_chain("filter", "LOCALKUBE-FORWARD", forward_rules(spec), "FORWARD")
    _ensure_chain("filter", "LOCALKUBE-INPUT", input_rules(spec), "INPUT")
    saved = spec.state / "net" / "ip_forward.before"
    if not saved.exists():
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(_IP_FORWARD.read_text().strip())
    _IP_FORWARD.write_text("1")
    spec.cni_conf_dir.mkdir(parents=True, exist_ok=True)
    conf = spec.cni_conf_dir / "10-localkube.conflist"
    conf.write_text(json.dumps(cni_config(spec), indent=2))


def put_containment_first() -> None:
    """Move the containment jumps back to the top (kube-proxy and the kubelet prepend
    their own chains when they start; they never move a rule that exists)."""
    for hook, chain in (("FORWARD", "LOCALKUBE-FORWARD"), ("INPUT", "LOCALKUBE-INPUT")):
        ipt = ["iptables", "-w", "-t", "filter"]
        while _run([*ipt, "-D", hook, "-j", chain], check=False).returncode == 0:
            pass
        _run([*ipt, "-I", hook, "1", "-j", chain])


def containment_first(spec: Spec) -> list[str]:
    """Problems if the containment chains are not the first rules of FORWARD and INPUT."""
    problems = []
    for hook, chain in (("FORWARD", "LOCALKUBE-FORWARD"), ("INPUT", "LOCALKUBE-INPUT")):
        lines = _run(["iptables", "-w", "-S", hook]).stdout.splitlines()
        rules = [line for line in lines if line.startswith("-A ")]
        if not rules or rules[0] != f"-A {hook} -j {chain}":
            first = rules[0] if rules else "(none)"
            problems.append(f"{hook}: first rule is {first!r}, not the jump to {chain}")
    return problems


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
            parts = line.split()
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
    if _link_exists(spec.bridge):
        _run(["ip", "link", "delete", spec.bridge], check=False)
    _run(["ip", "route", "del", spec.service_cidr], check=False)
    for tool in ("iptables", "ip6tables"):
        _remove_chains(tool)
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
    saved = spec.state / "net" / "ip_forward.before"
    if saved.exists():
        found.append(f"net.ipv4.ip_forward not restored (was {saved.read_text().strip()})")
    return found
