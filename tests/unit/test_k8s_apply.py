"""`airlines k8s apply-spark-app` without a cluster: the manifest, the owner reference,
which API errors are waited out, and the retry loop (on a scripted API and clock).

The real API path (in-cluster config, discovery, server-side apply against the Spark
Operator's webhook) is exercised by the end-to-end tests on a real cluster.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import urllib3.exceptions
import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import api_exception
from tests.unit.fake_clock import FakeClock
from typer.testing import CliRunner

from airlines.cli import app
from airlines.ops.k8s.apply import (
    ApplyError,
    SparkAppApi,
    apply_spark_application,
)
from airlines.ops.k8s.errors import (
    ApiProblem,
    NotServedError,
    problem_from_exception,
    problem_from_response,
)
from airlines.ops.k8s.manifest import (
    ManifestError,
    apply_outcome,
    owner_reference,
    parse_spark_application,
    with_owner,
)
from airlines.waiting import backoff

WEBHOOK_DOWN = (
    'Internal error occurred: failed calling webhook "mutate-sparkoperator-k8s-io-v1beta2-'
    'sparkapplication.sparkoperator.k8s.io": failed to call webhook: Post "https://rel-spark-'
    "operator-webhook-svc.airlines.svc:9443/mutate-sparkoperator-k8s-io-v1beta2-"
    'sparkapplication?timeout=10s": dial tcp 10.96.12.3:9443: connect: connection refused'
)

MANIFEST: dict[str, Any] = {
    "apiVersion": "sparkoperator.k8s.io/v1beta2",
    "kind": "SparkApplication",
    "metadata": {"name": "rel-streaming", "namespace": "airlines", "labels": {"a": "b"}},
    "spec": {"type": "Python", "mode": "cluster"},
}


def _status(code: int, reason: str, message: str) -> str:
    """A Status body, as the API server sends with an error (JSON)."""
    return json.dumps(
        {"kind": "Status", "status": "Failure", "code": code, "reason": reason, "message": message}
    )


def _api_error(code: int, reason: str, message: str) -> ApiException:
    """The exception the dynamic client raises for an error response."""
    error: ApiException = api_exception(
        ApiException(status=code, reason=reason, body=_status(code, reason, message))
    )
    return error


# --- the manifest ------------------------------------------------------------------------


def test_parses_one_spark_application() -> None:
    assert parse_spark_application(yaml.safe_dump(MANIFEST), "m.yaml") == MANIFEST


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: [", "m.yaml: not valid YAML"),
        ("", "m.yaml: expected one YAML document, found 0"),
        (
            yaml.safe_dump_all([MANIFEST, MANIFEST]),
            "m.yaml: expected one YAML document, found 2",
        ),
        ("- 1\n", "m.yaml: expected a mapping, got list"),
        (
            yaml.safe_dump({**MANIFEST, "kind": "ConfigMap"}),
            "m.yaml: apiVersion/kind: expected sparkoperator.k8s.io/v1beta2 SparkApplication, "
            "got sparkoperator.k8s.io/v1beta2 ConfigMap",
        ),
        (yaml.safe_dump({**MANIFEST, "metadata": {}}), "m.yaml: metadata.name: required"),
        (
            yaml.safe_dump({**MANIFEST, "metadata": {"name": "Rel_Streaming"}}),
            "m.yaml: metadata.name: 'Rel_Streaming' is not a Kubernetes object name",
        ),
        (yaml.safe_dump({**MANIFEST, "spec": None}), "m.yaml: spec: required"),
    ],
)
def test_rejects_what_is_not_one_spark_application(text: str, problem: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_spark_application(text, "m.yaml")
    assert str(caught.value).startswith(problem)


def test_the_owner_is_the_config_map_and_nothing_more() -> None:
    owner = owner_reference("rel-streaming-app", "uid-1")
    assert owner == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "rel-streaming-app",
        "uid": "uid-1",
    }
    owned = with_owner(MANIFEST, owner)
    assert owned["metadata"]["ownerReferences"] == [owner]
    assert "ownerReferences" not in MANIFEST["metadata"], "the input is left as it was"
    assert {k: v for k, v in owned["metadata"].items() if k != "ownerReferences"} == MANIFEST[
        "metadata"
    ]
    with pytest.raises(ValueError, match="has no uid"):
        owner_reference("rel-streaming-app", "")


def test_a_recreated_owner_replaces_the_old_reference_and_others_stay() -> None:
    other = {"apiVersion": "example.com/v1", "kind": "Thing", "name": "t", "uid": "uid-t"}
    old = owner_reference("rel-streaming-app", "uid-old")
    new = owner_reference("rel-streaming-app", "uid-new")
    manifest = {**MANIFEST, "metadata": {**MANIFEST["metadata"], "ownerReferences": [other, old]}}
    assert with_owner(manifest, new)["metadata"]["ownerReferences"] == [other, new]
    assert with_owner(with_owner(manifest, new), new)["metadata"]["ownerReferences"] == [
        other,
        new,
    ]


def test_outcome_ignores_what_the_server_and_the_operator_change() -> None:
    stored = {
        **MANIFEST,
        "metadata": {**MANIFEST["metadata"], "resourceVersion": "7", "generation": 1},
        "status": {"applicationState": {"state": "RUNNING"}},
    }
    again = {
        **MANIFEST,
        "metadata": {**MANIFEST["metadata"], "resourceVersion": "9", "managedFields": []},
        "status": {"applicationState": {"state": "SUBMITTED"}},
    }
    changed = {**again, "spec": {**MANIFEST["spec"], "mode": "client"}}
    assert apply_outcome(None, stored) == "created"
    assert apply_outcome(stored, again) == "unchanged"
    assert apply_outcome(stored, changed) == "configured"


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "status", "transient"),
    [
        (_api_error(500, "InternalError", WEBHOOK_DOWN), 500, True),
        (_api_error(503, "ServiceUnavailable", "the server is currently unable"), 503, True),
        (_api_error(429, "TooManyRequests", "slow down"), 429, True),
        (_api_error(504, "Timeout", "timed out"), 504, True),
        (_api_error(500, "InternalError", "etcdserver: no leader"), 500, False),
        (_api_error(403, "Forbidden", 'cannot patch resource "sparkapplications"'), 403, False),
        (_api_error(422, "Invalid", "spec.driver.cores: Invalid value: 0"), 422, False),
        (_api_error(404, "NotFound", 'configmaps "x" not found'), 404, False),
        (
            _api_error(400, "BadRequest", 'admission webhook "validate" denied the request: x'),
            400,
            False,
        ),
        (
            urllib3.exceptions.MaxRetryError(
                None,  # type: ignore[arg-type]
                "/apis",
                urllib3.exceptions.NewConnectionError(
                    None,  # type: ignore[arg-type]
                    "Failed to establish a new connection: [Errno 111] Connection refused",
                ),
            ),
            None,
            True,
        ),
        (urllib3.exceptions.ProtocolError("Connection aborted."), None, True),
        (ConnectionResetError("reset by peer"), None, True),
        (ApiException(status=0, reason="SSLError\nEOF occurred"), None, True),
        (NotServedError("sparkoperator.k8s.io/v1beta2", "SparkApplication"), 404, False),
    ],
)
def test_waits_out_only_what_can_fix_itself(
    exc: BaseException, status: int | None, transient: bool
) -> None:
    problem = problem_from_exception(exc)
    assert problem is not None
    assert (problem.status, problem.transient) == (status, transient)


def test_anything_else_is_not_an_api_problem() -> None:
    assert problem_from_exception(KeyError("metadata")) is None


def test_explanations_name_the_problem() -> None:
    webhook = problem_from_response(
        500, "Internal Server Error", _status(500, "InternalError", WEBHOOK_DOWN)
    )
    assert webhook.reason == "InternalError"
    assert webhook.explain().startswith(
        "the Spark Operator's admission webhook does not answer yet: Internal error occurred: "
        'failed calling webhook "mutate-sparkoperator'
    )
    forbidden = problem_from_response(403, "Forbidden", _status(403, "Forbidden", "no"))
    assert forbidden.explain().startswith("forbidden (the hook's Role must allow")
    invalid = problem_from_response(422, None, _status(422, "Invalid", "spec.x: bad"))
    assert invalid.explain() == (
        "the API server rejected the SparkApplication as invalid: spec.x: bad"
    )
    teapot = problem_from_response(418, "I'm a teapot", "short and stout")
    assert teapot.explain() == "HTTP 418 I'm a teapot: short and stout"
    assert problem_from_response(500, None, b"x" * 2000).explain().endswith("…")
    not_served = problem_from_exception(
        NotServedError("sparkoperator.k8s.io/v1beta2", "SparkApplication")
    )
    assert not_served is not None
    assert "are the Spark Operator's CRDs installed?" in not_served.explain()


# --- the retry loop -------------------------------------------------------------------------


class ScriptedApi:
    """A :class:`SparkAppApi` whose applies fail as scripted, then store the manifest."""

    def __init__(self, apply_failures: list[BaseException], owner_uid: str = "uid-1") -> None:
        self.apply_failures = list(apply_failures)
        self.owner_uid = owner_uid
        self.stored: dict[str, Any] | None = None
        self.applied: list[dict[str, Any]] = []

    def config_map_uid(self, namespace: str, name: str) -> str:
        if not self.owner_uid:
            raise _api_error(404, "NotFound", f'configmaps "{name}" not found')
        return self.owner_uid

    def get_spark_application(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.stored

    def apply_spark_application(self, manifest: dict[str, Any]) -> dict[str, Any]:
        self.applied.append(manifest)
        if self.apply_failures:
            raise self.apply_failures.pop(0)
        self.stored = {**manifest, "metadata": {**manifest["metadata"], "resourceVersion": "1"}}
        return self.stored


def _apply(
    api: ScriptedApi,
    timeout: float = 300,
    log: list[str] | None = None,
    clock: FakeClock | None = None,
) -> Any:
    clock = clock or FakeClock()
    lines = log if log is not None else []
    connect: Callable[[], SparkAppApi] = lambda: api  # noqa: E731
    return apply_spark_application(
        connect,
        MANIFEST,
        "airlines",
        "rel-streaming-app",
        timeout,
        log=lines.append,
        clock=clock,
        sleep=clock.sleep,
    )


def test_waits_for_the_webhook_then_creates_the_app_owned_by_its_config_map() -> None:
    api = ScriptedApi([_api_error(500, "InternalError", WEBHOOK_DOWN)] * 3)
    log: list[str] = []
    clock = FakeClock()
    result = _apply(api, log=log, clock=clock)
    assert (result.outcome, result.attempts, result.owner) == ("created", 4, "rel-streaming-app")
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert len(log) == 3
    assert log[0].startswith("waiting: the Spark Operator's admission webhook does not answer yet")
    assert log[0].endswith("(attempt 1; next in 1s)")
    assert api.stored is not None
    assert api.stored["metadata"]["ownerReferences"] == [
        owner_reference("rel-streaming-app", "uid-1")
    ]


def test_an_unchanged_app_is_reported_unchanged() -> None:
    api = ScriptedApi([])
    assert _apply(api).outcome == "created"
    assert _apply(api).outcome == "unchanged"


def test_gives_up_at_the_deadline_with_the_last_problem() -> None:
    api = ScriptedApi([_api_error(503, "ServiceUnavailable", "unavailable")] * 100)
    clock = FakeClock()
    with pytest.raises(ApplyError) as caught:
        _apply(api, timeout=30, clock=clock)
    assert str(caught.value).startswith("gave up after 30s and ")
    assert str(caught.value).endswith("last problem: HTTP 503 ServiceUnavailable: unavailable")
    assert clock.now == 30
    assert clock.sleeps[-1] <= 10


def test_fails_at_once_on_a_problem_waiting_cannot_fix() -> None:
    api = ScriptedApi([_api_error(422, "Invalid", "spec.driver.cores: Invalid value: 0")])
    clock = FakeClock()
    with pytest.raises(ApplyError, match=r"^apply: the API server rejected the SparkApplication"):
        _apply(api, clock=clock)
    assert (len(api.applied), clock.sleeps) == (1, [])


def test_a_missing_owner_is_named() -> None:
    with pytest.raises(
        ApplyError, match=r"^ConfigMap rel-streaming-app not found in namespace airlines"
    ):
        _apply(ScriptedApi([], owner_uid=""))


def test_a_bug_is_not_mistaken_for_an_api_problem() -> None:
    with pytest.raises(KeyError):
        _apply(ScriptedApi([KeyError("spec")]))


def test_backoff_grows_then_stays_at_ten_seconds() -> None:
    assert [backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 10, 10, 10]


def test_problem_is_a_value() -> None:
    assert ApiProblem(None, "x", "y") == ApiProblem(None, "x", "y")


# --- the command ------------------------------------------------------------------------------

runner = CliRunner()


def test_command_rejects_a_bad_manifest_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump({**MANIFEST, "metadata": {}}))
    result = runner.invoke(
        app, ["k8s", "apply-spark-app", "--manifest", str(path), "--owner-configmap", "x"]
    )
    assert result.exit_code == 2
    assert f"{path}: metadata.name: required" in result.output


def test_command_rejects_a_bad_owner_name_and_timeout(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(MANIFEST))
    base = ["k8s", "apply-spark-app", "--manifest", str(path)]
    bad_owner = runner.invoke(app, [*base, "--owner-configmap", "Not_A_Name"])
    assert bad_owner.exit_code == 2
    assert "--owner-configmap: 'Not_A_Name' is not a Kubernetes object name" in bad_owner.output
    bad_timeout = runner.invoke(app, [*base, "--owner-configmap", "x", "--timeout", "soon"])
    assert bad_timeout.exit_code == 2
    assert "--timeout: invalid duration 'soon'" in bad_timeout.output


def test_command_outside_a_pod_says_to_pass_a_kubeconfig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(MANIFEST))
    result = runner.invoke(
        app,
        [
            "k8s",
            "apply-spark-app",
            "--manifest",
            str(path),
            "--owner-configmap",
            "x",
            "--timeout",
            "1s",
        ],
    )
    assert result.exit_code == 2
    assert "cannot use the in-cluster config" in result.output
    assert "pass --kubeconfig" in result.output
