"""Which ports the local stack uses, and whether they are free.

A plan is one ZooKeeper port, three Kafka broker ports and six Redis ports (each
Redis node also has a cluster-bus port). ``--port-base N`` lays them out as
ZooKeeper ``N``, Kafka ``N+1..N+3``, Redis ``N+4..N+9``; the cluster bus of each
Redis node is its port + 10000, as Redis does by default.
"""

from __future__ import annotations

import errno
import random
import socket
from collections.abc import Iterable

from pydantic import BaseModel, Field, ValidationError, model_validator

KAFKA_BROKERS = 3
REDIS_NODES = 6
#: Offset of a Redis node's cluster-bus port from its client port (Redis' default).
REDIS_BUS_OFFSET = 10_000
HOST = "127.0.0.1"

DEFAULT_ZOOKEEPER_PORT = 2181
DEFAULT_KAFKA_PORT = 9092
DEFAULT_REDIS_PORT = 7000


class PortError(ValueError):
    """A port plan that cannot work (out of range, overlapping)."""


class PortsBusyError(RuntimeError):
    """Something already listens on ports of the plan; ``busy`` maps service -> port."""

    def __init__(self, busy: dict[str, int]) -> None:
        self.busy = busy
        listing = ", ".join(f"{name} port {port}" for name, port in busy.items())
        super().__init__(
            f"ports already in use: {listing}. Stop whatever listens there or choose "
            "other ports (--port-base N, or --zookeeper-port/--kafka-port/--redis-port)"
        )


class PortPlan(BaseModel):
    """The ports of one stack."""

    zookeeper: int  # every port, bus ports included, is range-checked in _valid, by name
    kafka: list[int] = Field(min_length=KAFKA_BROKERS, max_length=KAFKA_BROKERS)
    redis: list[int] = Field(min_length=REDIS_NODES, max_length=REDIS_NODES)

    @model_validator(mode="after")
    def _valid(self) -> PortPlan:
        named = self.named()
        for name, port in named.items():
            if not 1 <= port <= 65535:
                raise PortError(f"{name}: port {port} is outside 1-65535")
        seen: dict[int, str] = {}
        for name, port in named.items():
            if port in seen:
                raise PortError(f"{name}: port {port} is also used by {seen[port]}")
            seen[port] = name
        return self

    def summary(self) -> str:
        return (
            f"ZooKeeper {self.zookeeper}, Kafka {self.kafka[0]}-{self.kafka[-1]}, "
            f"Redis {self.redis[0]}-{self.redis[-1]}"
        )

    @property
    def redis_bus(self) -> list[int]:
        return [port + REDIS_BUS_OFFSET for port in self.redis]

    def named(self) -> dict[str, int]:
        """Every port the stack binds, by the service (or bus) that binds it."""
        ports = {"zookeeper": self.zookeeper}
        ports.update({f"kafka-{i}": port for i, port in enumerate(self.kafka)})
        ports.update({f"redis-{port}": port for port in self.redis})
        ports.update({f"redis-{port} cluster bus": port + REDIS_BUS_OFFSET for port in self.redis})
        return ports

    @property
    def bootstrap_servers(self) -> list[str]:
        return [f"{HOST}:{port}" for port in self.kafka]

    @property
    def redis_nodes(self) -> list[str]:
        return [f"{HOST}:{port}" for port in self.redis]

    @property
    def zookeeper_connect(self) -> str:
        return f"{HOST}:{self.zookeeper}"


def plan_ports(
    *,
    base: int | None = None,
    zookeeper: int | None = None,
    kafka: int | None = None,
    redis: int | None = None,
) -> PortPlan:
    """A plan from ``--port-base`` or the first port of each service (defaults otherwise).

    ``kafka`` and ``redis`` are the first of 3 and 6 consecutive ports.
    """
    if base is not None:
        if any(v is not None for v in (zookeeper, kafka, redis)):
            raise PortError("--port-base cannot be combined with individual port options")
        zookeeper, kafka, redis = base, base + 1, base + 1 + KAFKA_BROKERS
    zk = DEFAULT_ZOOKEEPER_PORT if zookeeper is None else zookeeper
    kafka_first = DEFAULT_KAFKA_PORT if kafka is None else kafka
    redis_first = DEFAULT_REDIS_PORT if redis is None else redis
    try:
        return PortPlan(
            zookeeper=zk,
            kafka=[kafka_first + i for i in range(KAFKA_BROKERS)],
            redis=[redis_first + i for i in range(REDIS_NODES)],
        )
    except ValidationError as exc:
        # pydantic wraps the PortError; surface its own message.
        message = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        option = f"--port-base {base}" if base is not None else "port options"
        raise PortError(f"{option}: {message}") from exc


def port_in_use(port: int, host: str = HOST) -> bool:
    """True if something listens on ``host:port`` or the port cannot be bound there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        if probe.connect_ex((host, port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def busy_ports(plan: PortPlan, skip: Iterable[str] = ()) -> dict[str, int]:
    """The ports of the plan something already uses, by service name."""
    skipped = set(skip)
    return {
        name: port
        for name, port in plan.named().items()
        if name not in skipped and port_in_use(port)
    }


def check_ports_free(plan: PortPlan, skip: Iterable[str] = ()) -> None:
    """Raise :class:`PortsBusyError` naming every busy port of the plan (but ``skip``)."""
    busy = busy_ports(plan, skip)
    if busy:
        raise PortsBusyError(busy)


def find_free_plan(
    low: int = 12_000, high: int = 22_000, attempts: int = 200, rng: random.Random | None = None
) -> PortPlan:
    """A plan (``--port-base`` layout) whose every port, buses included, is free now.

    The default range keeps the cluster-bus ports (``+10000``) below Linux's ephemeral
    range (32768+), so outgoing connections do not take them. Bases are random so
    concurrent test sessions on one machine rarely probe the same block.
    """
    chooser = rng or random.Random()
    span = 1 + KAFKA_BROKERS + REDIS_NODES
    for _ in range(attempts):
        base = chooser.randrange(low, high - span)
        plan = plan_ports(base=base)
        if not busy_ports(plan):
            return plan
    raise PortsBusyError({f"any block of {span} ports in {low}-{high}": low})
