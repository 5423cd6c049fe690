"""The e2e tier: the chart on the real single-node cluster ``make e2e`` builds.

Every test here is marked ``e2e`` (``make test`` deselects them; ``make e2e`` and
``make e2e-test`` run only them). They need the cluster running (``make e2e-up``) with
the project's images imported; without it they fail and say so.

``make e2e`` runs them in two lanes side by side (:mod:`localkube.lanes`): the
cluster's promises and the lifecycle of the minikube release (test_install.py to
test_lifecycle.py, in order) in one, the other environments and the images in the other.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.e2e import analytics
from tests.e2e.kube import COMMAND_COSTS, PRODUCER_IMAGE, VALUES, Kube
from tests.e2e.lifecycle import NAMESPACE, RELEASE, delete_namespace
from tests.e2e.release import Release

from localkube import chartdeps, paths

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    """A failed test of a release leaves the release's pod logs and events in
    ``.e2e/logs/failed/<test>/`` (the cluster and its pods are gone after ``make e2e``),
    and why it failed in ``failure.txt`` there: pytest prints that only at the end of
    the session, which a run cut short never reaches."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    failed = paths.REPO / ".e2e" / "logs" / "failed" / item.name
    failed.mkdir(parents=True, exist_ok=True)
    (failed / "failure.txt").write_text(report.longreprtext + "\n")
    funcargs = getattr(item, "funcargs", {})
    # A test's release is a fixture of its own, or part of one (the environments').
    values = [x for v in funcargs.values() for x in (v if isinstance(v, tuple) else (v,))]
    releases = [v for v in values if isinstance(v, Release)]
    for release in releases:
        target = failed / release.namespace
        try:
            release.save_logs(target)
        except Exception as exc:  # the report matters more than the logs
            print(f"could not save the logs of {release.namespace}: {exc}")
        else:
            print(f"pod logs and events of {release.namespace}: {target}")


@pytest.fixture(scope="session")
def kube() -> Kube:
    """The running e2e cluster (fails clearly when it is not up)."""
    kube = Kube()
    if not kube.spec.kubeconfig.exists():
        pytest.fail(f"no e2e cluster ({kube.spec.kubeconfig} missing): run make e2e-up")
    nodes = kube.json("get", "nodes")["items"]
    ready = [
        n
        for n in nodes
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
    ]
    if not ready:
        pytest.fail("the e2e cluster's node is not Ready: see .e2e/logs/kubelet.log")
    chartdeps.verify()
    return kube


@pytest.fixture(scope="session")
def release(kube: Kube) -> Iterator[Release]:
    """The minikube release, installed once for the lane's tests (test_install.py,
    test_least_privilege.py, test_analytics.py, test_lifecycle.py, in that order);
    removed (namespace too) afterwards.

    ``E2E_KEEP_RELEASE=1`` (for working on one test with ``-k``): reuse an installed
    release and leave it installed.
    """
    rel = Release(kube, RELEASE, NAMESPACE, [VALUES / "minikube.yaml"])
    keep = os.environ.get("E2E_KEEP_RELEASE") == "1"
    if not (keep and rel.installed()):
        delete_namespace(kube, NAMESPACE)  # a leftover of an earlier run would change it
        started = time.monotonic()
        rel.install()
        print(f"helm install --wait: {time.monotonic() - started:.0f}s")
    try:
        yield rel
    finally:
        if not keep:
            if rel.installed():
                rel.uninstall()
            delete_namespace(kube, NAMESPACE)


@pytest.fixture(scope="session")
def toolbox(release: Release) -> str:
    analytics.start_toolbox(release.kube, release.name, release.namespace, PRODUCER_IMAGE)
    return analytics.TOOLBOX


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The tests' own commands: how many, and the CPU they took on the machine's side."""
    if not COMMAND_COSTS:
        return
    costs = sorted(COMMAND_COSTS.items(), key=lambda item: -item[1].cpu_seconds)
    total = sum(cost.cpu_seconds for _, cost in costs)
    terminalreporter.section(f"kubectl and helm: {total:.0f} CPU seconds")
    for name, cost in costs[:12]:
        terminalreporter.write_line(f"{cost.cpu_seconds:8.1f} s {cost.count:6d} x {name}")
