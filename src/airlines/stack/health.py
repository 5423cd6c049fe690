"""The local stack's status: which services run and whether each answers as it should
(ZooKeeper's ``ruok``, brokers registered, Redis nodes in a healthy cluster).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from airlines.config import ConfigError
from airlines.kafka import admin as kafka_admin
from airlines.stack import procs
from airlines.stack.services import StackError, four_letter_word, service_specs
from airlines.stack.status import ServiceStatus, StackStatus
from airlines.store import users as redis_users
from airlines.store.cluster import cluster_health
from airlines.store.connect import RedisAccess, RedisPasswordError

if TYPE_CHECKING:
    from airlines.stack.local import LocalStack


def stack_status(stack: LocalStack, probe: bool = True) -> StackStatus:
    """Which services run, and (``probe``) whether each answers as it should."""
    plan = stack.plan()
    specs = service_specs(plan)
    services: dict[str, ServiceStatus] = {}
    for spec in specs:
        record = stack.record(spec.name)
        running = record is not None and procs.is_running(record)
        services[spec.name] = ServiceStatus(
            name=spec.name,
            endpoint=spec.endpoint,
            pid=record.pid if record and running else None,
            running=running,
            ready=False,
            detail="" if running else "not running",
            log=str(stack.layout.log(spec.name)),
        )
    problems = [f"{s.name}: not running" for s in services.values() if not s.running]
    any_running = any(s.running for s in services.values())
    if probe and any_running:
        zk = services["zookeeper"]
        if zk.running:
            answer = four_letter_word(plan.zookeeper, "ruok")
            zk.ready = answer == "imok"
            zk.detail = "imok" if zk.ready else f"ruok answered {answer!r}"
        brokers = [s for s in specs if s.kind == "kafka"]
        if any(services[s.name].running for s in brokers):
            try:
                metadata = kafka_admin.cluster_metadata(stack.kafka_client(), timeout=3)
            except (kafka_admin.KafkaAdminError, ConfigError) as exc:
                registered: set[int] = set()
                problems.append(str(exc))
            else:
                registered = set(metadata.brokers)
                problems += missing_topics(stack, set(metadata.topics))
            for spec in brokers:
                state = services[spec.name]
                if state.running:
                    state.ready = spec.index in registered
                    state.detail = "registered" if state.ready else "not registered"
        redis_specs = [s for s in specs if s.kind == "redis"]
        if any(services[s.name].running for s in redis_specs):
            try:
                access = stack.redis_access()
            except (StackError, ConfigError, RedisPasswordError) as exc:
                access = RedisAccess()
                problems.append(str(exc))
            health = cluster_health(
                [s.endpoint for s in redis_specs if services[s.name].running], access
            )
            by_endpoint = {n.endpoint: n for n in health.nodes}
            for spec in redis_specs:
                state = services[spec.name]
                node = by_endpoint.get(spec.endpoint)
                if not state.running:
                    continue
                if node is None:
                    state.detail = health.error or "not part of the cluster"
                elif node.error:
                    state.detail = node.error
                else:
                    role = "primary" if node.role == "master" else "replica"
                    state.ready = node.cluster_state == "ok"
                    state.detail = f"{role}, cluster_state {node.cluster_state}"
            problems += [f"redis: {p}" for p in health.problems()]
        problems += [
            f"{s.name}: {s.detail}" for s in services.values() if s.running and not s.ready
        ]
    up = probe and all(s.running and s.ready for s in services.values()) and not problems
    overall: Literal["up", "degraded", "down"] = (
        "up" if up else ("degraded" if any_running else "down")
    )
    return StackStatus(
        up=up,
        state=overall,
        stack_dir=str(stack.root),
        config_path=str(stack.layout.config_file),
        bootstrap_servers=plan.bootstrap_servers,
        zookeeper=plan.zookeeper_connect,
        redis_nodes=plan.redis_nodes,
        redis_password_file=str(stack.layout.redis_password_file(redis_users.ADMIN_USER)),
        services=list(services.values()),
        problems=list(dict.fromkeys(problems)),
    )


def missing_topics(stack: LocalStack, existing: set[str]) -> list[str]:
    """The configured topics (generated config) the cluster does not have."""
    try:
        wanted = stack.config().topic_names
    except ConfigError as exc:
        return [f"config: {exc}"]
    return [f"kafka: topic {name} does not exist" for name in wanted if name not in existing]
