"""The minikube release the lifecycle lane installs once and every test of that lane
shares, and what its tests do with it: commands in the toolbox pod, its config, the
analytics checked against the oracle."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import yaml
from tests.e2e import analytics
from tests.e2e.kube import Kube, wait_until
from tests.e2e.release import Release

from airlines.config.loader import load_config
from airlines_testkit.job_log import LoggedBatch, logged_batches
from airlines_testkit.offset_log import CheckpointBatch, batch_phases, caught_up, checkpoint_batches
from airlines_testkit.oracle import config_oracle, differences
from airlines_testkit.services import window_hashes

NAMESPACE = "airlines"


RELEASE = "airlines"


EXECUTORS = 1  # values/minikube.yaml: streaming.executor.instances


#: The CLI of this checkout (the same one the images run).
AIRLINES = str(Path(sys.executable).parent / "airlines")


def delete_namespace(kube: Kube, namespace: str) -> None:
    kube.kubectl(
        "delete",
        "namespace",
        namespace,
        "--ignore-not-found",
        "--wait=true",
        "--timeout=300s",
        timeout=330,
    )


def toolbox_exec(
    release: Release, *argv: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return analytics.toolbox_run(release.kube, release.namespace, *argv, timeout=timeout)


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration (the Redis password for the readers)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def checkpoint_dir(release: Release) -> Path:
    """Where the checkpoint claim's volume lives on this machine (local-path)."""
    claim = release.kube.json(
        "-n", release.namespace, "get", "pvc", release.resource("streaming-checkpoints")
    )
    volume = release.kube.json("get", "pv", claim["spec"]["volumeName"])
    return Path(volume["spec"]["hostPath"]["path"]) / "flight-analytics" / "analytics"


def check_analytics(release: Release, tmp_path: Path) -> dict[str, Any]:
    """Producers stopped: wait for the job to read everything, then Redis == oracle."""
    config = load_config_from(release, tmp_path)
    topics = [t.name for t in config.topics]
    records = analytics.dump_topics(release.kube, release.namespace, topics)
    checkpoint = checkpoint_dir(release)

    def is_caught_up() -> list[CheckpointBatch] | None:
        batches = checkpoint_batches(checkpoint)
        return batches if caught_up(records, batches) else None

    batches = wait_until("the job has read every record", is_caught_up, 300, interval=5)
    expected = config_oracle(config, batch_phases(records, batches))
    # Every record is aggregated, dead-lettered, late, a duplicate or a smoke marker
    # (helm test's, by key and header).
    assert config.streaming.slide is None
    assert expected.markers == sum(r.is_smoke_marker for r in records) > 0
    assert (
        expected.aggregated_events
        + expected.rejected
        + expected.late_events
        + expected.duplicates
        + expected.markers
        == len(records)
    )
    with release.redis_config(tmp_path, "admin") as (path, env), environment(env):
        # Every window hash in Redis, through the port-forwards (SCAN: the admin's) ...
        actual = window_hashes(load_config(path))
        problems = differences(expected.windows, actual)
        assert not problems, f"{len(problems)} differences, first: {problems[:10]}"
    with release.redis_config(tmp_path, "reader") as (path, env), environment(env):
        # ... and the same numbers through the CLI a user runs (as the read-only user),
        # for a sample of flights.
        flights = sorted({w.flight_id for w in expected.windows.values()})
        for flight in flights[:: max(1, len(flights) // 6)]:
            argv = [AIRLINES, "query", "flight", flight, "--limit", "1000", "--json"]
            done = subprocess.run(
                [*argv, "--config", str(path)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            got = {(w["route"], w["window_start_ms"]): w for w in orjson.loads(done.stdout)}
            want = {
                (w.route, w.window_start_ms): w
                for w in expected.windows.values()
                if w.flight_id == flight
            }
            assert set(got) == set(want), flight
            for key, window in want.items():
                assert got[key]["event_count"] == window.event_count
                assert abs(got[key]["avg_ticket_price"] - window.avg_ticket_price) <= 1e-9
                assert abs(got[key]["avg_delay_minutes"] - window.avg_delay_minutes) <= 1e-9
    return {"records": records, "expected": expected, "batches": batches}


def load_config_from(release: Release, tmp_path: Path) -> Any:

    path = tmp_path / "release-config.yaml"
    path.write_text(yaml.safe_dump(release.config_yaml()))
    return load_config(path)


def logged_batches_of(release: Release, driver: dict[str, Any]) -> list[LoggedBatch]:
    """The batches the job's driver logged (its batch log lines), oldest first."""
    return logged_batches(release.driver_log(driver["metadata"]["name"]))
