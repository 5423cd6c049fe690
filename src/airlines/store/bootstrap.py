"""Forming a Redis Cluster from independent cluster-enabled nodes, re-runnably.

``bootstrap`` is what ``airlines redis bootstrap`` runs, for the local stack and as
the chart's bootstrap hook (with names like ``redis-0.redis-headless.ns.svc:6379``).
Each run looks at what the nodes already agree on and only does what is missing:

1. resolve host names to IP addresses (``CLUSTER MEET`` takes addresses only);
2. ``CLUSTER MEET`` every node not yet known to the first one;
3. give the uncovered hash slots, evenly, to primaries that own none;
4. ``CLUSTER REPLICATE`` every node that is neither a primary nor a replica to the
   primary with the fewest replicas;
5. wait until every node reports ``cluster_state:ok``, all 16384 slots are served and
   every primary has its replicas with a live replication link.

A complete cluster is left untouched (no commands but reads); a half-formed one is
completed. The read-only view of a cluster (its nodes, its health) is
:mod:`airlines.store.cluster`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from airlines.config.types import split_endpoint
from airlines.store.cluster import (
    NodeEntry,
    cluster_health,
    cluster_info,
    node_client,
    parse_cluster_nodes,
    resolve,
)
from airlines.store.connect import RedisAccess
from airlines.store.node import SLOTS
from airlines.waiting import poll


class BootstrapError(RuntimeError):
    """The cluster cannot be formed; the message names the node and the problem."""


def even_ranges(slots: list[int], parts: int) -> list[list[tuple[int, int]]]:
    """Split sorted slot numbers into ``parts`` near-equal shares of contiguous ranges.

    ``even_ranges(list(range(16384)), 3)`` -> 0-5460, 5461-10921, 10922-16383.
    """
    shares: list[list[tuple[int, int]]] = []
    count = len(slots)
    for index in range(parts):
        chunk = slots[index * count // parts : (index + 1) * count // parts]
        ranges: list[tuple[int, int]] = []
        for slot in chunk:
            if ranges and ranges[-1][1] == slot - 1:
                ranges[-1] = (ranges[-1][0], slot)
            else:
                ranges.append((slot, slot))
        shares.append(ranges)
    return shares


@dataclass
class Node:
    """A node being bootstrapped: where it was named, where it is, a client."""

    endpoint: str
    ip: str
    port: int
    client: redis.Redis
    id: str = ""
    bus_port: int = 0

    def nodes(self) -> list[NodeEntry]:
        return parse_cluster_nodes(str(self.client.execute_command("CLUSTER", "NODES")))

    def myself(self) -> NodeEntry:
        for entry in self.nodes():
            if "myself" in entry.flags:
                return entry
        raise BootstrapError(f"redis {self.endpoint}: CLUSTER NODES has no 'myself' entry")


@dataclass
class BootstrapReport:
    actions: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.actions)


def _connect(endpoints: list[str], access: RedisAccess, deadline: float) -> list[Node]:
    """Resolve and PING every node, retrying (pods come up one by one) until the deadline."""
    nodes: dict[str, Node] = {}
    problems: dict[str, str] = {}

    def unreachable() -> str | None:
        for endpoint in endpoints:
            if endpoint in nodes:
                continue
            try:
                ip, port = resolve(endpoint)
            except (OSError, UnicodeError) as exc:
                problems[endpoint] = f"cannot resolve host name: {exc}"
                continue
            # By its name (a TLS certificate names it), met by its address (CLUSTER MEET).
            client = node_client(split_endpoint(endpoint)[0], port, access)
            try:
                client.ping()
                info = client.info("cluster")
            except redis.AuthenticationError as exc:
                raise BootstrapError(
                    f"redis {endpoint}: authentication failed ({exc}); check the password"
                ) from exc
            except redis.ResponseError as exc:
                if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
                    raise BootstrapError(
                        f"redis {endpoint}: authentication failed ({exc}); check the password"
                    ) from exc
                raise BootstrapError(f"redis {endpoint}: {exc}") from exc
            except redis.RedisError as exc:
                problems[endpoint] = f"not reachable at {ip}:{port}: {exc}"
                continue
            if not int(info.get("cluster_enabled", 0)):
                raise BootstrapError(
                    f"redis {endpoint}: cluster mode is off (set 'cluster-enabled yes')"
                )
            nodes[endpoint] = Node(endpoint, ip, port, client)
            problems.pop(endpoint, None)
        if len(nodes) == len(endpoints):
            return None
        return "; ".join(f"{e}: {p}" for e, p in problems.items())

    detail = poll(unreachable, deadline=deadline, interval=0.5)
    if detail is not None:
        raise BootstrapError(f"redis: not every node is reachable: {detail}")
    return [nodes[e] for e in endpoints]


def _wait(
    what: str, check: Callable[[], str | None], deadline: float, interval: float = 0.3
) -> None:
    """Poll ``check`` (None when satisfied, else what is still missing) until the deadline."""

    def still_missing() -> str | None:
        try:
            return check()
        except redis.RedisError as exc:
            return str(exc)

    missing = poll(still_missing, deadline=deadline, interval=interval)
    if missing is not None:
        raise BootstrapError(f"redis: timed out waiting for {what}: {missing}")


def bootstrap(
    endpoints: list[str],
    access: RedisAccess,
    *,
    replicas: int = 1,
    timeout: float = 120,
    log: Callable[[str], None] = lambda _: None,
) -> BootstrapReport:
    """Form (or finish forming) a cluster of ``endpoints``; see the module docstring."""
    if replicas < 0:
        raise BootstrapError(f"replicas: must be 0 or more, got {replicas}")
    deadline = time.monotonic() + timeout
    report = BootstrapReport()

    def act(message: str) -> None:
        report.actions.append(message)
        log(message)

    nodes = _connect(list(dict.fromkeys(endpoints)), access, deadline)
    by_id: dict[str, Node] = {}
    for node in nodes:
        me = node.myself()
        node.id, node.bus_port = me.id, me.bus_port
        by_id.setdefault(node.id, node)  # one node named twice counts once
    nodes = list(by_id.values())
    wanted_primaries = len(nodes) // (replicas + 1)
    if wanted_primaries < 3:
        raise BootstrapError(
            f"redis: {len(nodes)} distinct nodes cannot form a cluster of 3 primaries with "
            f"{replicas} replica(s) each (need at least {3 * (replicas + 1)})"
        )

    # 1. every node meets the first one; gossip introduces the rest.
    hub = nodes[0]
    known = {entry.id for entry in hub.nodes() if "handshake" not in entry.flags}
    for node in nodes[1:]:
        if node.id not in known:
            hub.client.execute_command("CLUSTER", "MEET", node.ip, node.port, node.bus_port)
            act(f"CLUSTER MEET {node.endpoint} ({node.ip}:{node.port})")
    ids = set(by_id)

    def joined() -> str | None:
        for node in nodes:
            seen = {e.id for e in node.nodes() if "handshake" not in e.flags}
            if not ids <= seen:
                return f"{node.endpoint} does not know {len(ids - seen)} of the nodes yet"
        return None

    _wait("every node to know every other", joined, deadline)

    # 2. hash slots for primaries that have none.
    view = {e.id: e for e in hub.nodes() if e.id in ids}
    primaries = [n for n in nodes if view[n.id].is_primary and view[n.id].slots]
    candidates = [
        n for n in nodes if view[n.id].is_primary and not view[n.id].slots and n not in primaries
    ]
    while len(primaries) < wanted_primaries and candidates:
        primaries.append(candidates.pop(0))
    covered = {
        slot
        for entry in view.values()
        for start, end in entry.slots
        for slot in range(start, end + 1)
    }
    missing = [slot for slot in range(SLOTS) if slot not in covered]
    if missing:
        empty = [p for p in primaries if not view[p.id].slots]
        targets = empty or sorted(primaries, key=lambda p: view[p.id].slot_count)
        for target, ranges in zip(targets, even_ranges(missing, len(targets)), strict=True):
            if not ranges:
                continue
            args: list[int] = [bound for pair in ranges for bound in pair]
            target.client.execute_command("CLUSTER", "ADDSLOTSRANGE", *args)
            count = sum(end - start + 1 for start, end in ranges)
            act(f"CLUSTER ADDSLOTSRANGE on {target.endpoint}: {count} slots")

    def slots_agreed() -> str | None:
        for node in nodes:
            info = cluster_info(node.client)
            if int(info.get("cluster_slots_assigned", 0)) != SLOTS:
                return f"{node.endpoint} sees {info.get('cluster_slots_assigned')} slots assigned"
        return None

    _wait("all hash slots to be assigned", slots_agreed, deadline)

    # 3. replicas for everything that is neither.
    view = {e.id: e for e in hub.nodes() if e.id in ids}
    primary_ids = [p.id for p in primaries]
    replica_count = {pid: 0 for pid in primary_ids}
    for entry in view.values():
        if entry.master_id in replica_count:
            replica_count[entry.master_id] += 1
    spare = [
        n
        for n in nodes
        if view[n.id].is_primary and not view[n.id].slots and n.id not in primary_ids
    ]
    for node in spare:
        target_id = min(primary_ids, key=lambda pid: replica_count[pid])
        try:
            node.client.execute_command("CLUSTER", "REPLICATE", target_id)
        except redis.ResponseError as exc:
            raise BootstrapError(
                f"redis {node.endpoint}: cannot become a replica of {by_id[target_id].endpoint}: "
                f"{exc} (a node must be empty to become a replica)"
            ) from exc
        replica_count[target_id] += 1
        act(f"CLUSTER REPLICATE {node.endpoint} -> {by_id[target_id].endpoint}")

    # 4. healthy from every node's point of view.
    def healthy() -> str | None:
        health = cluster_health([n.endpoint for n in nodes], access)
        problems = health.problems(min_replicas=replicas)
        return "; ".join(problems) if problems else None

    _wait("the cluster to be healthy", healthy, deadline, interval=0.5)
    return report
