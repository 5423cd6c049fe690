"""values/dev.yaml and values/production.yaml install on the real cluster too.

Each with an override file (tests/e2e/values/<env>-fit.yaml) that only shrinks what the
pods ask for (and their JVMs' start-up compiling), so the whole topology fits this one
2-core node beside the lifecycle tests' release, which runs at the same time
(``make e2e`` runs this file beside the minikube release's lane: localkube/lanes.py); production's
override also drops the required one-pod-per-node anti-affinity a single node cannot
meet, moves it out of the lifecycle release's namespace and lowers its producers' rate
with its resources (the file says why). Each environment is its own release, named
after its namespace, so that cluster-scoped objects (the operator's webhook
configurations and cluster roles) never collide. Each install must come up with
``--wait``, run the streaming job with all its executors, and pass ``helm test``;
then it is removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.e2e import analytics
from tests.e2e.kube import PRODUCER_IMAGE, VALUES, Kube, wait_until
from tests.e2e.release import Release

#: A real cluster on 2 cores: installs take minutes, not seconds.
pytestmark = pytest.mark.timeout(1800)

FIT = Path(__file__).resolve().parent / "values"


@dataclass(frozen=True)
class Environment:
    name: str
    namespace: str  # the Spark job namespace of its values (with the fit file); the release name
    executors: int
    zookeepers: int


ENVIRONMENTS = [
    Environment("dev", "airlines-dev", executors=2, zookeepers=3),
    Environment("production", "airlines-production", executors=4, zookeepers=3),
]


def remove(kube: Kube, release: Release) -> None:
    """Uninstall and delete the namespace, without waiting out graceful shutdowns (the
    lifecycle test checks a real uninstall, its pre-delete hook included; here only the
    next test's room matters, so no hook stops the brokers first)."""
    if release.installed():
        kube.helm(
            "uninstall", release.name, "-n", release.namespace, "--no-hooks", "--timeout", "5m"
        )
    kube.kubectl(
        "-n",
        release.namespace,
        "delete",
        "pods",
        "--all",
        "--grace-period=0",
        "--force",
        check=False,
    )
    kube.kubectl(
        "delete",
        "namespace",
        release.namespace,
        "--ignore-not-found",
        "--timeout=300s",
        timeout=330,
    )


@pytest.fixture(params=ENVIRONMENTS, ids=[e.name for e in ENVIRONMENTS])
def installed(request: pytest.FixtureRequest, kube: Kube) -> Iterator[tuple[Environment, Release]]:
    env: Environment = request.param
    kube.kubectl(
        "delete", "namespace", env.namespace, "--ignore-not-found", "--timeout=300s", timeout=330
    )
    release = Release(
        kube,
        env.namespace,
        env.namespace,
        [VALUES / f"{env.name}.yaml", FIT / f"{env.name}-fit.yaml"],
    )
    try:
        release.install()
        yield env, release
    finally:
        remove(kube, release)


def test_environment_installs_runs_and_passes_helm_test(
    installed: tuple[Environment, Release],
) -> None:
    env, release = installed
    release.wait_everything_ready(env.executors)
    statefulsets = {
        s["metadata"]["name"]: s["status"].get("readyReplicas", 0)
        for s in release.kube.json("-n", release.namespace, "get", "statefulsets")["items"]
    }
    assert statefulsets == {
        release.resource("zookeeper"): env.zookeepers,
        release.resource("kafka"): 3,
        release.resource("redis-cluster"): 6,
    }
    analytics.start_toolbox(release.kube, release.name, release.namespace, PRODUCER_IMAGE)
    # The job's first batch reads the backlog the producers made while it started (~70k
    # events for dev); on this node, CPU-bound beside the lifecycle release, it once took
    # over 4 minutes, and a 7-minute deadline failed. Each check starts a Python process
    # in the toolbox: every 15 s is often enough.
    wait_until(
        "a fresh analytics heartbeat",
        lambda: (
            analytics.toolbox_run(
                release.kube, release.namespace, "airlines", "smoke", "--checks", "analytics"
            ).returncode
            == 0
        ),
        900,
        interval=15,
    )
    out = release.kube.helm("test", release.name, "-n", release.namespace, "--timeout", "10m")
    assert out.count("Phase:          Succeeded") == 3, out
