"""The life of the release after its first analytics: pod loss (a broker and the driver)
loses and doubles nothing, ``helm upgrade`` (trigger, producer rate) resumes from the
checkpoint, ``helm rollback`` restores the previous release, and ``helm uninstall`` keeps
only the PersistentVolumeClaims. In order: each test builds on the one before."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.e2e import analytics
from tests.e2e.kube import wait_until
from tests.e2e.lifecycle import (
    EXECUTORS,
    check_analytics,
    logged_batches_of,
)
from tests.e2e.release import Release

from airlines_testkit.job_log import LoggedBatch

#: A real cluster on 2 cores: installs and restarts take minutes, not seconds.
pytestmark = pytest.mark.timeout(1800)


def _wait_batches_with_input(
    release: Release, driver: dict[str, Any], after: int, count: int = 2
) -> list[LoggedBatch]:
    """Wait until ``driver`` has logged ``count`` batches with input after batch ``after``."""

    def probe() -> list[LoggedBatch] | None:
        fresh = [
            b for b in logged_batches_of(release, driver) if b.batch_id > after and b.input_rows
        ]
        return fresh if len(fresh) >= count else None

    return wait_until(f"{count} batches with input after batch {after}", probe, 420, interval=5)


def _new_driver(release: Release, old_uid: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        driver = release.running_spark(EXECUTORS)
        return driver if driver and driver["metadata"]["uid"] != old_uid else None

    return wait_until("a new driver RUNNING", probe, 600, interval=3)


def test_pod_loss_loses_and_doubles_nothing(release: Release, tmp_path: Path) -> None:
    release.start_producers()
    driver = release.wait_running(EXECUTORS)
    before = max((b.batch_id for b in logged_batches_of(release, driver)), default=-1)
    _wait_batches_with_input(release, driver, before, count=1)
    broker = f"{release.resource('kafka')}-1"
    broker_uid = release.kube.json("-n", release.namespace, "get", "pod", broker)["metadata"]["uid"]
    # Abrupt losses: a broker with producers writing to it, and the Spark driver.
    release.kube.kubectl(
        "-n", release.namespace, "delete", "pod", broker, "--grace-period=1", "--wait=false"
    )
    release.kube.kubectl(
        "-n",
        release.namespace,
        "delete",
        "pod",
        driver["metadata"]["name"],
        "--grace-period=1",
        "--wait=false",
    )
    wait_until(
        "the broker back and Ready",
        lambda: (
            (pod := release.kube.json("-n", release.namespace, "get", "pod", broker))
            and pod["metadata"]["uid"] != broker_uid
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in pod["status"].get("conditions", [])
            )
        ),
        300,
        interval=3,
    )
    new_driver = _new_driver(release, driver["metadata"]["uid"])
    resumed = _wait_batches_with_input(release, new_driver, -1, count=2)
    # Resumed from the checkpoint: batch ids go on from where the lost driver was.
    assert resumed[0].batch_id > before, (before, resumed[0])
    release.stop_producers()
    result = check_analytics(release, tmp_path)
    assert not analytics.delivered_problems(
        result["records"], release.delivered, release.acknowledged
    )


def _kafka_password(release: Release, user: str) -> str:
    import base64

    secret = release.kube.json(
        "-n", release.namespace, "get", "secret", release.resource(f"kafka-user-{user}")
    )
    return base64.b64decode(secret["data"]["password"]).decode()


def test_upgrade_applies_new_config_and_resumes(release: Release, tmp_path: Path) -> None:
    """Also rotates the east-coast producer's password: its pod restarts with the new
    one, the topics hook sets it in Kafka, and the producer reconnects and delivers
    (counted by the reconciliation at the end)."""
    driver = release.wait_running(EXECUTORS)
    last = max((b.batch_id for b in logged_batches_of(release, driver)), default=-1)
    old_password = _kafka_password(release, "producer-east-coast")
    unchanged = _kafka_password(release, "producer-west-coast")
    release.kube.helm(
        "upgrade",
        *release.helm_args(
            "--set",
            "global.config.streaming.trigger=10s",
            "--set",
            "global.config.producers.rate=20",
            "--set",
            "global.kafka.credentialGenerations.producer-east-coast=2",
            "--wait",
            "--timeout",
            "15m",
        ),
    )
    config = release.config_yaml()
    assert config["streaming"]["trigger"] == "10s", config["streaming"]
    assert float(config["producers"]["rate"]) == 20.0
    assert _kafka_password(release, "producer-east-coast") != old_password
    assert _kafka_password(release, "producer-west-coast") == unchanged
    # The upgrade set the producers' replicas back to the chart's 1: they run again.
    release.start_producers()
    new_driver = _new_driver(release, driver["metadata"]["uid"])
    wait_until(
        "the upgraded driver says its new trigger",
        lambda: "trigger 10 seconds" in release.driver_log(new_driver["metadata"]["name"]),
        300,
        interval=5,
    )
    resumed = _wait_batches_with_input(release, new_driver, last, count=2)
    assert resumed[0].batch_id > last
    counts = release.stop_producers()
    # The east-coast producer, with its new password, delivered.
    assert counts["east-coast"] > 0, counts
    result = check_analytics(release, tmp_path)
    assert not analytics.delivered_problems(
        result["records"], release.delivered, release.acknowledged
    )


def test_rollback_restores_the_previous_release(release: Release) -> None:
    driver = release.wait_running(EXECUTORS)
    release.kube.helm(
        "rollback", release.name, "1", "-n", release.namespace, "--wait", "--timeout", "15m"
    )
    history = release.kube.helm("history", release.name, "-n", release.namespace)
    assert "Rollback to 1" in history, history
    assert release.config_yaml()["streaming"]["trigger"] == "30s"
    new_driver = _new_driver(release, driver["metadata"]["uid"])
    wait_until(
        "the rolled-back driver says its trigger",
        lambda: "trigger 30 seconds" in release.driver_log(new_driver["metadata"]["name"]),
        300,
        interval=5,
    )


def test_uninstall_keeps_only_the_claims(release: Release) -> None:
    claims = sorted(
        c["metadata"]["name"]
        for c in release.kube.json("-n", release.namespace, "get", "pvc")["items"]
    )
    assert release.resource("streaming-checkpoints") in claims
    # The test's own pod is not the release's.
    release.kube.kubectl(
        "-n",
        release.namespace,
        "delete",
        "pod",
        analytics.TOOLBOX,
        "--grace-period=0",
        "--force",
        "--ignore-not-found",
    )
    started = datetime.now(UTC).replace(microsecond=0)
    release.uninstall()
    kinds = (
        "pods,deployments,statefulsets,jobs,services,configmaps,secrets,serviceaccounts,"
        "roles,rolebindings,networkpolicies,poddisruptionbudgets,sparkapplications"
    )

    left: list[str] = []

    def nothing_left() -> bool:
        out = release.kube.kubectl("-n", release.namespace, "get", kinds, "-o", "name")
        kept = ("configmap/kube-root-ca.crt", "serviceaccount/default")
        left[:] = [name for name in out.split() if name not in kept]
        return not left

    try:
        wait_until("nothing of the release left in the namespace", nothing_left, 300, interval=3)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still there: {left}") from exc
    for kind in (
        "clusterroles",
        "clusterrolebindings",
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
    ):
        named = release.kube.kubectl(
            "get", kind, "-l", f"app.kubernetes.io/instance={release.name}", "-o", "name"
        )
        assert not named.strip(), named
    after = sorted(
        c["metadata"]["name"]
        for c in release.kube.json("-n", release.namespace, "get", "pvc")["items"]
    )
    assert after == claims
    # The pre-delete hook scaled the brokers to 0 while ZooKeeper still ran: the
    # StatefulSet controller deleted each broker pod (the garbage collector deletes the
    # pods of a deleted StatefulSet, with no such event), and no ZooKeeper pod.
    brokers = {release.resource(f"kafka-{i}") for i in range(3)}
    wait_until(
        "the StatefulSet controller's events for the brokers' scale-down",
        lambda: brokers <= _scaled_down_since(release, "kafka", started),
        60,
        interval=2,
    )
    assert not _scaled_down_since(release, "zookeeper", started)


def _scaled_down_since(release: Release, component: str, since: datetime) -> set[str]:
    """Pods the StatefulSet controller deleted from ``component``'s set since ``since``."""
    events = release.kube.json(
        "-n",
        release.namespace,
        "get",
        "events",
        "--field-selector",
        f"involvedObject.kind=StatefulSet,involvedObject.name={release.resource(component)},"
        "reason=SuccessfulDelete",
    )["items"]
    deleted = set()
    for event in events:
        stamp = event.get("lastTimestamp") or event.get("eventTime") or ""
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
        found = re.match(
            r"delete Pod (\S+) in StatefulSet", event.get("message", ""), re.IGNORECASE
        )
        if when is not None and when >= since and found:
            deleted.add(found.group(1))
    return deleted
