"""A Redis Cluster as its nodes see it, read-only: ``CLUSTER NODES`` parsed, clients of
one node, and the health check used by the stack's readiness wait, ``stack status``,
``airlines smoke`` and the end of :func:`airlines.store.bootstrap.bootstrap`.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from airlines.config.types import split_endpoint
from airlines.store.connect import RedisAccess
from airlines.store.node import SLOTS


@dataclass(frozen=True)
class NodeEntry:
    """One line of ``CLUSTER NODES``."""

    id: str
    ip: str
    port: int
    bus_port: int
    flags: frozenset[str]
    master_id: str | None
    link_connected: bool
    slots: tuple[tuple[int, int], ...]
    #: The name the node announces (``cluster-announce-hostname``), if any.
    hostname: str | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def is_primary(self) -> bool:
        return "master" in self.flags

    @property
    def slot_count(self) -> int:
        return sum(end - start + 1 for start, end in self.slots)

    @property
    def failing(self) -> bool:
        return bool(self.flags & {"fail", "fail?", "handshake", "noaddr"})


def parse_cluster_nodes(text: str) -> list[NodeEntry]:
    """Parse ``CLUSTER NODES`` output (slot migration markers are skipped)."""
    entries = []
    for line in text.strip().splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        # ip:port@bus[,hostname[,aux=value...]]
        address, *extra = parts[1].split(",")
        hostname = extra[0] if extra and "=" not in extra[0] else ""
        hostport, _, bus = address.partition("@")
        ip, port = split_endpoint(hostport) if hostport.rpartition(":")[2] else (hostport, 0)
        slots = []
        for item in parts[8:]:
            if item.startswith("["):
                continue
            start, _, end = item.partition("-")
            slots.append((int(start), int(end or start)))
        entries.append(
            NodeEntry(
                id=parts[0],
                ip=ip,
                port=port,
                bus_port=int(bus) if bus else port + 10_000,
                flags=frozenset(parts[2].split(",")),
                master_id=None if parts[3] == "-" else parts[3],
                link_connected=parts[7] == "connected",
                slots=tuple(slots),
                hostname=hostname or None,
            )
        )
    return entries


def resolve(endpoint: str) -> tuple[str, int]:
    """``host:port`` -> ``(ip, port)``, IPv4 preferred."""
    host, port = split_endpoint(endpoint)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0]), port


def node_client(ip: str, port: int, access: RedisAccess, timeout: float = 5) -> redis.Redis:
    """A client of one node that fails fast (no retries): for polling and probes."""
    return redis.Redis(
        host=ip,
        port=port,
        **access.client_options(),
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=min(timeout, 3),
        # Callers poll; redis-py's default retries (with backoff) would make every
        # refused password or connection take seconds.
        retry=Retry(NoBackoff(), 0),
    )


@dataclass
class NodeHealth:
    endpoint: str
    error: str | None = None
    cluster_state: str | None = None
    slots_assigned: int = 0
    slots_ok: int = 0
    role: str | None = None
    master_link_up: bool | None = None


@dataclass
class ClusterHealth:
    """What each node of the cluster reports, and the topology one node sees."""

    nodes: list[NodeHealth]
    topology: list[NodeEntry]
    error: str | None = None

    def primaries(self) -> list[NodeEntry]:
        return [e for e in self.topology if e.is_primary and e.slots and not e.failing]

    def replicas_of(self, primary: NodeEntry) -> list[NodeEntry]:
        return [e for e in self.topology if e.master_id == primary.id and not e.failing]

    def problems(self, min_replicas: int = 1) -> list[str]:
        """Everything that keeps the cluster from being healthy (empty when it is)."""
        return self.state_problems() + self.slot_problems() + self.replica_problems(min_replicas)

    def state_problems(self) -> list[str]:
        """Unreachable nodes, nodes not reporting ``cluster_state:ok``, failing flags."""
        if self.error:
            return [self.error]
        problems = []
        for node in self.nodes:
            if node.error:
                problems.append(f"{node.endpoint}: {node.error}")
            elif node.cluster_state != "ok":
                problems.append(f"{node.endpoint}: cluster_state is {node.cluster_state}")
        failing = [
            f"{e.endpoint} ({','.join(sorted(e.flags))})" for e in self.topology if e.failing
        ]
        if failing:
            problems.append(f"nodes flagged failing: {', '.join(failing)}")
        return problems

    def slot_problems(self) -> list[str]:
        """Nodes that do not see all 16384 slots assigned and served."""
        if self.error:
            return [self.error]
        return [
            f"{node.endpoint}: {node.slots_ok} of {SLOTS} slots served "
            f"({node.slots_assigned} assigned)"
            for node in self.nodes
            if not node.error and node.slots_ok != SLOTS
        ]

    def replica_problems(self, min_replicas: int = 1) -> list[str]:
        """Primaries without enough replicas whose replication link is up."""
        if self.error:
            return [self.error]
        if not self.primaries():
            return ["no primary serves any slot"]
        problems = []
        by_endpoint = {n.endpoint: n for n in self.nodes}
        for node in self.nodes:
            if node.role == "slave" and not node.master_link_up:
                problems.append(f"{node.endpoint}: replica's link to its primary is down")
        for primary in self.primaries():
            live = [
                r
                for r in self.replicas_of(primary)
                if r.link_connected
                and by_endpoint.get(r.endpoint, NodeHealth(r.endpoint)).master_link_up
            ]
            if len(live) < min_replicas:
                problems.append(
                    f"primary {primary.endpoint} has {len(live)} replica(s) attached, "
                    f"expected {min_replicas}"
                )
        return problems


def cluster_info(client: redis.Redis) -> dict[str, str]:
    """``CLUSTER INFO`` as a dict of strings."""
    text = str(client.execute_command("CLUSTER", "INFO"))
    return dict(line.split(":", 1) for line in text.strip().splitlines() if ":" in line)


def cluster_health(
    endpoints: list[str], access: RedisAccess, *, timeout: float = 3
) -> ClusterHealth:
    """Ask the first reachable startup node for the topology, then every node for its state."""
    topology: list[NodeEntry] | None = None
    errors: dict[str, list[str]] = {}
    for endpoint in endpoints:
        try:
            _, port = resolve(endpoint)  # a name that does not resolve is reported as such
        except (OSError, UnicodeError) as exc:
            errors.setdefault(f"cannot resolve host name: {exc}", []).append(endpoint)
            continue
        # By its name (a TLS certificate names it, not its address).
        with node_client(split_endpoint(endpoint)[0], port, access, timeout) as client:
            try:
                topology = parse_cluster_nodes(str(client.execute_command("CLUSTER", "NODES")))
                break
            except (OSError, redis.RedisError) as exc:
                errors.setdefault(redis_error(exc), []).append(endpoint)
    if topology is None:
        detail = "; ".join(f"{', '.join(where)}: {what}" for what, where in errors.items())
        return ClusterHealth([], [], error=f"redis: no node usable: {detail}")
    nodes = []
    for entry in topology:
        health = NodeHealth(entry.endpoint)
        nodes.append(health)
        if "noaddr" in entry.flags or not entry.port:
            health.error = "has no address"
            continue
        # By the name it announces when it does (its TLS certificate names that).
        with node_client(entry.hostname or entry.ip, entry.port, access, timeout) as client:
            try:
                info = cluster_info(client)
                replication = client.info("replication")
            except (OSError, redis.RedisError) as exc:
                health.error = redis_error(exc)
                continue
        health.cluster_state = info.get("cluster_state")
        health.slots_assigned = int(info.get("cluster_slots_assigned", 0))
        health.slots_ok = int(info.get("cluster_slots_ok", 0))
        health.role = str(replication.get("role"))
        if health.role == "slave":
            health.master_link_up = replication.get("master_link_status") == "up"
    return ClusterHealth(nodes, topology)


def redis_error(exc: BaseException) -> str:
    """A short explanation of a Redis client error."""
    text = str(exc)
    auth_markers = ("NOAUTH", "WRONGPASS", "username-password", "Authentication required")
    if isinstance(exc, redis.AuthenticationError) or any(m in text for m in auth_markers):
        return f"authentication failed ({text}); check the password"
    if "NOPERM" in text:
        return f"not permitted ({text}); check the ACL user's rights"
    if isinstance(exc, redis.ConnectionError | OSError):
        return f"not reachable ({text})"
    return text
