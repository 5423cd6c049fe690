"""The minikube release installs: every pod Ready, the topics created, the Redis Cluster
formed, the SparkApplication RUNNING with its driver and executor; then ``helm test``
passes. The first tests of the lifecycle lane: the rest build on this release."""

from __future__ import annotations

import orjson
import pytest
from tests.e2e.kube import wait_until
from tests.e2e.lifecycle import (
    EXECUTORS,
    toolbox_exec,
)
from tests.e2e.release import Release

#: A real cluster on 2 cores: installs and restarts take minutes, not seconds.
pytestmark = pytest.mark.timeout(1800)


def test_install_brings_everything_up(release: Release, toolbox: str) -> None:
    assert release.installed()
    driver = release.wait_everything_ready(EXECUTORS)
    # The hook jobs did their work: the topics exist with the configured shape ...
    described = toolbox_exec(release, "airlines", "topics", "describe", "--json")
    assert described.returncode == 0, described.stderr
    topics = {t["name"]: t for t in orjson.loads(described.stdout)}
    config = release.config_yaml()
    for topic in config["topics"]:
        assert topic["name"] in topics, sorted(topics)
    # ... and the Redis Cluster is formed: all slots served by 3 primaries with replicas.
    info = release.redis_cli("cluster", "info")
    for expected in (
        "cluster_state:ok",
        "cluster_slots_assigned:16384",
        "cluster_size:3",
        "cluster_known_nodes:6",
    ):
        assert expected in info, info
    # The operator submitted the job: RUNNING, with its driver and executor pods.
    assert driver["metadata"]["labels"]["spark-role"] == "driver"


def test_helm_test_passes(release: Release, toolbox: str) -> None:
    # helm test's analytics check wants a recent batch: wait for the job's heartbeat.
    wait_until(
        "a fresh analytics heartbeat",
        lambda: toolbox_exec(release, "airlines", "smoke", "--checks", "analytics").returncode == 0,
        300,
        interval=5,
    )
    out = release.kube.helm("test", release.name, "-n", release.namespace, "--timeout", "10m")
    assert "Phase:          Succeeded" in out, out
    assert "Failed" not in out.split("TEST SUITE")[-1], out
