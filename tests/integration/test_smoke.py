"""``airlines smoke`` passes on a healthy stack and fails clearly when it is not."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from airlines.config import AppConfig
from airlines.contract.smoke import heartbeat_key
from airlines.ops.smoke import CheckResult, run_smoke
from airlines.store.cluster import cluster_health
from airlines.store.connect import cluster_client
from airlines_testkit.stack import FreshConfig, RunningStack, run_cli

pytestmark = pytest.mark.integration


def failures(results: list[CheckResult]) -> list[str]:
    return [f"{r.group} {r.name}: {r.detail}" for r in results if not r.ok]


def test_smoke_passes_on_a_healthy_stack(stack: RunningStack) -> None:
    result = run_cli("smoke", "--checks", "kafka,redis", env=stack.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke passed: 8 checks" in result.stdout
    for topic in [t.name for t in stack.config.topics] + [stack.config.dead_letter.topic]:
        assert f"topic {topic}" in result.stdout
    assert "FAIL" not in result.stdout


def test_analytics_freshness_follows_the_heartbeat(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    config = fresh_config.config
    key = heartbeat_key(config.redis.key_prefix)
    client = cluster_client(config.redis)
    try:
        missing = run_cli(
            "smoke", "--checks", "analytics", "--config", str(fresh_config.path), env=stack.env
        )
        assert missing.returncode == 1
        assert f"no heartbeat at {key}" in missing.stdout

        now_ms = int(time.time() * 1000)
        client.hset(key, mapping={"batch_id": 41, "updated_at_ms": now_ms - 2000, "rows": 1200})
        fresh = run_cli(
            "smoke", "--checks", "analytics", "--config", str(fresh_config.path), env=stack.env
        )
        assert fresh.returncode == 0, fresh.stdout
        assert "batch 41 (1200 rows) finished" in fresh.stdout

        client.hset(key, mapping={"batch_id": 42, "updated_at_ms": now_ms - 300_000})
        stale = run_cli(
            "smoke",
            "--checks",
            "analytics",
            "--analytics-within",
            "90s",
            "--config",
            str(fresh_config.path),
            env=stack.env,
        )
        assert stale.returncode == 1
        assert "last batch 42 finished 30" in stale.stdout
        assert "longer ago than 1m30s" in stale.stdout or "longer ago than 90s" in stale.stdout
        assert "smoke failed: 1 of 1 checks (analytics job heartbeat)" in stale.stderr

        within = run_smoke(config, ["analytics"], timedelta(minutes=10))
        assert failures(within) == []
    finally:
        client.delete(key)
        client.close()


def test_smoke_names_a_missing_topic(stack: RunningStack) -> None:
    data = stack.config.model_dump(by_alias=True)
    data["topics"][0]["name"] = "never-created"
    results = run_smoke(AppConfig.model_validate(data), ["kafka"], timeout=10)
    assert failures(results) == [
        "kafka topic never-created: topic never-created does not exist "
        "(run 'airlines topics ensure')"
    ]


def test_smoke_fails_clearly_without_enough_brokers(stack: RunningStack) -> None:
    try:
        # One broker lost: RF 3 / min.insync.replicas 2 still takes writes.
        stack.kill_broker(2)
        one_down = run_smoke(stack.config, ["kafka"], timeout=45)
        assert failures(one_down) == []

        # Two lost: writes with acks=all are refused, and smoke says so.
        stack.kill_broker(1)
        two_down = run_cli("smoke", "--checks", "kafka", "--timeout", "8s", env=stack.env)
        assert two_down.returncode == 1
        assert "FAIL" in two_down.stdout
        assert "produce failed" in two_down.stdout
        # right after a SIGKILL the broker is still registered (until its ZooKeeper
        # session expires) and in the ISR; either way smoke names the cause
        assert (
            "fewer in-sync replicas than min.insync.replicas 2" in two_down.stdout
            or "registered but not reachable: 1 (127.0.0.1:" in two_down.stdout
        ), two_down.stdout
        # Every input topic fails its round trip; the dead-letter topic (never written by
        # smoke) fails too once the brokers have left its in-sync replicas.
        assert re.search(r"smoke failed: [34] of 4 checks", two_down.stderr), two_down.stderr
        for topic in stack.config.topics:
            assert f"kafka topic {topic.name}" in two_down.stderr
    finally:
        stack.ensure_healthy()
    healed = run_smoke(stack.config, ["kafka"], timeout=30)
    assert failures(healed) == []


def test_smoke_fails_clearly_when_a_redis_primary_dies(stack: RunningStack) -> None:
    primary = cluster_health(stack.config.redis.nodes, stack.redis_access).primaries()[0]
    name = f"redis-{primary.port}"
    try:
        stack.kill_service(name)
        down = run_smoke(stack.config, ["redis"])
        assert any(f"{primary.endpoint}: not reachable" in f for f in failures(down)), down

        # After failover the cluster serves every slot again, but the promoted
        # replica has no replica of its own, and smoke says which primary lacks one.
        deadline = time.monotonic() + 60
        while True:
            problems = failures(run_smoke(stack.config, ["redis"]))
            if any("has 0 replica(s) attached" in p for p in problems) and not any(
                "slots" in p for p in problems
            ):
                break
            assert time.monotonic() < deadline, problems
            time.sleep(1)
        cli = run_cli("smoke", "--checks", "redis", env=stack.env)
        assert cli.returncode == 1
        assert "has 0 replica(s) attached, expected 1" in cli.stdout
    finally:
        stack.ensure_healthy()
    deadline = time.monotonic() + 60
    while problems := failures(run_smoke(stack.config, ["redis"])):
        assert time.monotonic() < deadline, problems
        time.sleep(1)
