"""`airlines k8s stop-statefulset` without a cluster: the scale-then-wait loop on a
scripted API and clock, and the command's arguments and failure modes.

The real API path (scale subresource, pods going away in a controlled shutdown before
ZooKeeper is deleted) is exercised by the end-to-end uninstall test on a real cluster.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from tests.unit.fake_clock import FakeClock
from typer.testing import CliRunner

from airlines.cli import app
from airlines.ops.k8s.stop import StopError, stop_statefulset

runner = CliRunner()


def _api_error(code: int, reason: str, message: str) -> ApiException:
    body = json.dumps({"kind": "Status", "code": code, "reason": reason, "message": message})
    return ApiException(status=code, reason=reason, body=body)


class ScriptedStatefulSets:
    """A StatefulSet whose pods take ``lingers`` looks each to go once scaled to 0."""

    def __init__(
        self,
        replicas: int | None,
        lingers: dict[int, int] | None = None,
        failures: list[BaseException] | None = None,
    ) -> None:
        self.replicas = replicas
        self.lingers = dict(lingers or {})
        self.failures = list(failures or [])
        self.scaled: list[int] = []
        self.looks: list[str] = []

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    def get_replicas(self, namespace: str, name: str) -> int | None:
        self._maybe_fail()
        return self.replicas

    def scale(self, namespace: str, name: str, replicas: int) -> None:
        self._maybe_fail()
        self.scaled.append(replicas)
        self.replicas = replicas

    def pod_exists(self, namespace: str, name: str) -> bool:
        self._maybe_fail()
        self.looks.append(name)
        ordinal = int(name.rsplit("-", 1)[1])
        if self.replicas:  # not scaled down: every pod stays
            return True
        left = self.lingers.get(ordinal, 0)
        if left > 0:
            self.lingers[ordinal] = left - 1
            return True
        return False


def _stop(api: ScriptedStatefulSets, timeout: float = 120, log: list[str] | None = None) -> object:
    clock = FakeClock()
    lines = log if log is not None else []
    return stop_statefulset(
        api, "airlines", "rel-kafka", timeout, log=lines.append, clock=clock, sleep=clock.sleep
    )


def test_scales_to_zero_and_waits_until_every_pod_is_gone() -> None:
    api = ScriptedStatefulSets(3, lingers={0: 2, 2: 5})
    result = _stop(api)
    assert api.scaled == [0]
    assert result.replicas_before == 3  # type: ignore[attr-defined]
    # pod 2 was looked at until its sixth look found it gone
    assert api.looks.count("rel-kafka-2") == 6
    assert api.looks.count("rel-kafka-1") == 6
    assert result.seconds == 5.0  # type: ignore[attr-defined]


def test_a_missing_statefulset_is_nothing_to_stop() -> None:
    api = ScriptedStatefulSets(None)
    log: list[str] = []
    result = _stop(api, log=log)
    assert api.scaled == []
    assert result.replicas_before is None  # type: ignore[attr-defined]
    assert log == ["statefulset rel-kafka not found in namespace airlines: nothing to stop"]


def test_already_at_zero_is_not_scaled_again() -> None:
    api = ScriptedStatefulSets(0)
    _stop(api)
    assert api.scaled == []
    assert api.looks == []


def test_pods_still_there_at_the_deadline_are_named() -> None:
    api = ScriptedStatefulSets(3, lingers={1: 1000})
    with pytest.raises(StopError, match=r"after 30s these pods are still there: rel-kafka-1$"):
        _stop(api, timeout=30)
    assert api.scaled == [0]


def test_an_api_server_that_does_not_answer_is_waited_out() -> None:
    down = _api_error(503, "ServiceUnavailable", "apiserver is shutting down")
    api = ScriptedStatefulSets(3, failures=[down, down])
    log: list[str] = []
    _stop(api, log=log)
    assert api.scaled == [0]
    assert len(log) == 2
    assert log[0].endswith("(attempt 1; next in 1s)")


def test_forbidden_fails_at_once_naming_what_the_role_must_allow() -> None:
    api = ScriptedStatefulSets(
        3, failures=[_api_error(403, "Forbidden", 'cannot patch "statefulsets/scale"')]
    )
    with pytest.raises(
        StopError, match=r"^read: forbidden \(the hook's Role must allow get and patch"
    ):
        _stop(api)
    assert api.scaled == []


def test_a_bug_is_not_mistaken_for_an_api_problem() -> None:
    api = ScriptedStatefulSets(3, failures=[KeyError("spec")])
    with pytest.raises(KeyError):
        _stop(api)


# --- the command ---------------------------------------------------------------------------


def test_command_rejects_a_bad_name_and_timeout() -> None:
    bad_name = runner.invoke(app, ["k8s", "stop-statefulset", "Not_A_Name", "--namespace", "a"])
    assert bad_name.exit_code == 2
    assert "NAME: 'Not_A_Name' is not a Kubernetes object name" in bad_name.output
    bad_timeout = runner.invoke(
        app, ["k8s", "stop-statefulset", "kafka", "--namespace", "a", "--timeout", "soon"]
    )
    assert bad_timeout.exit_code == 2
    assert "--timeout: invalid duration 'soon'" in bad_timeout.output


def test_command_outside_a_pod_needs_a_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("airlines.ops.k8s.client.pod_namespace", lambda: None)
    result = runner.invoke(app, ["k8s", "stop-statefulset", "kafka"])
    assert result.exit_code == 2
    assert "--namespace: required outside a pod" in result.output


def _kubeconfig_to_a_closed_port(tmp_path: Path) -> Path:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def test_command_gives_up_on_an_unreachable_api_server(tmp_path: Path) -> None:
    base = ["k8s", "stop-statefulset", "kafka", "--namespace", "airlines", "--timeout", "2s"]
    kubeconfig = ["--kubeconfig", str(_kubeconfig_to_a_closed_port(tmp_path))]
    failed = runner.invoke(app, [*base, *kubeconfig])
    assert failed.exit_code == 1
    assert "statefulset kafka: read: gave up after 2s" in failed.output
    assert "the API server does not answer" in failed.output


def test_best_effort_warns_and_lets_the_uninstall_go_on(tmp_path: Path) -> None:
    base = ["k8s", "stop-statefulset", "kafka", "--namespace", "airlines", "--timeout", "2s"]
    kubeconfig = ["--kubeconfig", str(_kubeconfig_to_a_closed_port(tmp_path))]
    tolerated = runner.invoke(app, [*base, *kubeconfig, "--best-effort"])
    assert tolerated.exit_code == 0
    assert "warning: statefulset kafka: read: gave up after 2s" in tolerated.output
    assert "--best-effort: carrying on" in tolerated.output
