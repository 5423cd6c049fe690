"""Breaking a running local stack on purpose, for failure tests: signal a service, start it
again, wait until a restarted broker has caught up.

Functions of a :class:`~airlines.stack.local.LocalStack`; the ``stack`` fixture
(:class:`airlines_testkit.stack.RunningStack`) offers them as methods.
"""

from __future__ import annotations

import signal
import time

from airlines.kafka import admin as kafka_admin
from airlines.stack import procs
from airlines.stack.local import LocalStack
from airlines.stack.ports import busy_ports
from airlines.stack.services import StackError
from airlines.waiting import poll


def stop_service(
    stack: LocalStack, name: str, sig: int = signal.SIGTERM, timeout: float = 60
) -> None:
    """Signal one service and wait until it has exited (SIGKILL after ``timeout``)."""
    record = stack.record(name)
    if record is None or not procs.is_running(record):
        return
    procs.send(record, sig)
    if procs.wait_gone([record], timeout):
        procs.send(record, signal.SIGKILL)
        if procs.wait_gone([record], 10):
            raise StackError(f"{name} (pid {record.pid}) survived SIGKILL")
    _wait_ports_released(stack, name)


def _wait_ports_released(stack: LocalStack, name: str, timeout: float = 10) -> None:
    """A killed JVM's sockets close as its threads exit, a moment after its process
    looks gone: wait (bounded) for its own ports, so that starting it again at once
    does not find them busy (if they stay busy, start_service names the port)."""
    plan = stack.plan()
    own = {name, f"{name} cluster bus"}
    others = [n for n in plan.named() if n not in own]
    poll(
        lambda: busy_ports(plan, skip=others) or None,
        deadline=time.monotonic() + timeout,
        interval=0.1,
    )


def kill_broker(stack: LocalStack, index: int, sig: int = signal.SIGKILL) -> None:
    """Signal broker ``index`` and wait until its process is gone."""
    stop_service(stack, f"kafka-{index}", sig)


def start_broker(stack: LocalStack, index: int) -> None:
    """Start broker ``index`` again (same config and data); does not wait."""
    stack.start_service(f"kafka-{index}")


def wait_broker_ready(
    stack: LocalStack, index: int, timeout: float = 90, in_sync: bool = True
) -> None:
    """Wait until broker ``index`` answers itself and (``in_sync``) is back in every ISR."""
    name = f"kafka-{index}"
    endpoint = stack.service(name).endpoint
    lagging = "not answering"

    def not_ready() -> str | None:
        nonlocal lagging
        stack.check_alive([name])
        try:
            metadata = kafka_admin.cluster_metadata(stack.kafka_client([endpoint]), timeout=2)
        except kafka_admin.KafkaAdminError:
            return lagging
        if index not in metadata.brokers:
            lagging = "not registered"
            return lagging
        if not in_sync:
            return None
        behind = [
            f"{topic.topic}[{pid}]"
            for topic in metadata.topics.values()
            for pid, part in topic.partitions.items()
            if index in part.replicas and index not in part.isrs
        ]
        if not behind:
            return None
        lagging = f"not yet in sync for {', '.join(behind[:5])}"
        return lagging

    missing = poll(not_ready, deadline=time.monotonic() + timeout, interval=0.5)
    if missing is not None:
        raise StackError(f"{name}: not ready within {timeout:g}s ({missing})")
