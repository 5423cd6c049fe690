"""The e2e tier: the chart on the real single-node cluster ``make e2e`` builds.

Every test here is marked ``e2e`` (``make test`` deselects them; ``make e2e`` and
``make e2e-test`` run only them). They need the cluster running (``make e2e-up``) with
the project's images imported; without it they fail and say so.

``make e2e`` runs them in two lanes side by side (:mod:`localkube.lanes`): the
lifecycle of the minikube release (test_release.py, in order) and the images in one,
the cluster's promises and the other environments in the other.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.e2e.kube import Kube

from localkube import chartdeps

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


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
    chartdeps.place()
    return kube
