"""The local stack's services: what each is, how it is started, how it is asked.

ZooKeeper, three Kafka brokers and six Redis nodes (:func:`service_specs`), each
started from its rendered config (:func:`service_argv`).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import redis

from airlines.stack import procs, render, security
from airlines.stack.layout import StackLayout
from airlines.stack.ports import HOST, PortPlan
from airlines.stack.prereqs import Prerequisites
from airlines.stack.procs import ProcessRecord
from airlines.store.cluster import node_client
from airlines.store.connect import RedisAccess

Kind = Literal["zookeeper", "kafka", "redis"]

#: Kafka's default ``zookeeper.session.timeout.ms`` (the stack keeps it): how long the
#: ``/brokers/ids/<id>`` registration of a broker killed without a clean shutdown
#: outlives its process. A broker started again within it exits at once.
ZK_SESSION_TIMEOUT = 18.0
#: What such a broker logs before it exits (KafkaZkClient's checked ephemeral create).
STALE_REGISTRATION = "node already exists and owner"


class StackError(RuntimeError):
    """A stack operation failed; the message names the service and the problem."""


class StackRefusedError(StackError):
    """``up`` would not start: nothing was started (the message says why)."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    kind: Kind
    port: int
    index: int

    @property
    def endpoint(self) -> str:
        return f"{HOST}:{self.port}"


def service_specs(plan: PortPlan) -> list[ServiceSpec]:
    specs = [ServiceSpec("zookeeper", "zookeeper", plan.zookeeper, 0)]
    specs += [ServiceSpec(f"kafka-{i}", "kafka", port, i) for i, port in enumerate(plan.kafka)]
    specs += [ServiceSpec(f"redis-{port}", "redis", port, i) for i, port in enumerate(plan.redis)]
    return specs


def four_letter_word(port: int, word: str, timeout: float = 2.0) -> str | None:
    """Send a ZooKeeper four-letter command; the answer, or None if it cannot be asked."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(word.encode())
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
    except OSError:
        return None
    return b"".join(chunks).decode(errors="replace")


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def died_message(name: str, record: ProcessRecord | None, layout: StackLayout) -> str:
    """Why ``name`` is not running: its exit code and the last lines it wrote."""
    code = procs.exit_code(record.pid) if record else None
    how = f" with exit code {code}" if code is not None else ""
    log = layout.log(name)
    lines = tail(log)
    if not lines:
        log = layout.out(name)
        lines = tail(log)
    return f"{name} exited during startup{how}; last lines of {log}:\n{lines}"


def service_argv(spec: ServiceSpec, pre: Prerequisites, layout: StackLayout) -> list[str]:
    """The command line of one service, from its rendered config under ``layout``."""
    if spec.kind == "redis":
        return [pre.redis_server, str(layout.conf_dir / f"{spec.name}.conf")]
    jvm = [
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{layout.log4j_file}",
        f"-Dairlines.log.file={layout.log(spec.name)}",
        f"-Dkafka.logs.dir={layout.log_dir}",
        "-Dzookeeper.jmx.log4j.disable=true",
    ]
    if spec.kind == "zookeeper":
        return [
            pre.java,
            "-Xms32m",
            f"-Xmx{render.ZOOKEEPER_HEAP}",
            "-XX:+UseSerialGC",
            *jvm,
            security.jaas_option(layout.zookeeper_jaas),
            "-cp",
            pre.classpath,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(layout.conf_dir / "zoo.cfg"),
        ]
    return [
        pre.java,
        "-Xms128m",
        f"-Xmx{render.KAFKA_HEAP}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        *jvm,
        security.jaas_option(layout.kafka_jaas),
        "-cp",
        pre.classpath,
        "kafka.Kafka",
        str(layout.conf_dir / f"{spec.name}.properties"),
    ]


def redis_pings(port: int, access: RedisAccess) -> bool:
    """The Redis node on ``port`` answers PING (as ``access`` logs in)."""
    client = node_client(HOST, port, access, timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()
