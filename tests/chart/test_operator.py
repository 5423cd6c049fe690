"""The chart rendered with kubeflow's spark-operator chart: what only the whole render shows.

- Install order: no object the release creates needs an admission webhook of the same
  release (tests/chart/admission.py). As a release object, the SparkApplication would
  reach the operator's webhook (failurePolicy Fail) before it can answer, and a real
  kube-apiserver refuses it; so a hook applies it once the webhook answers, and the
  webhook stays strict and in the SparkApplication's path.
- Every container the release runs has CPU and memory requests and limits: ours, the
  hooks', the helm test pods', the operator's, and the Spark driver and executors of the
  SparkApplication the hook applies.

The operator chart comes from ``tests.chart.helm.operator_chart`` (it says where to get it).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.chart.admission import intercepting, waits_for_own_webhook, webhooks
from tests.chart.conftest import VALUES_FILES
from tests.chart.helm import RELEASE, Result, full_chart, template
from tests.chart.manifests import (
    SPARK_APPLICATION_KEY,
    by_kind,
    resource_problems,
    with_carried,
)

from airlines.config.chart.documents import values_with_defaults
from airlines.config.chart.umbrella import ChartValues

pytestmark = pytest.mark.chart

ENVIRONMENTS = ["default", *(p.name for p in VALUES_FILES)]
POST_HOOKS = {"post-install", "post-upgrade", "post-rollback"}


@pytest.fixture(params=ENVIRONMENTS)
def env(request: pytest.FixtureRequest) -> str:
    return str(request.param)


_parsed: dict[str, list[dict[str, Any]]] = {}


@pytest.fixture
def docs(env: str, full_render_env: dict[str, Result]) -> list[dict[str, Any]]:
    """The parsed render (parsed once: the CRDs make it large). Tests must not change it."""
    if env not in _parsed:
        result = full_render_env[env]
        assert result.returncode == 0, result.stderr
        _parsed[env] = [d for d in yaml.load_all(result.stdout, Loader=yaml.CSafeLoader) if d]
    return _parsed[env]


def _chart_values(env: str) -> ChartValues:
    path = next((p for p in VALUES_FILES if p.name == env), None)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path else {}
    return ChartValues.model_validate(values_with_defaults(data))


def _hook(doc: dict[str, Any]) -> tuple[set[str], int]:
    annotations = doc["metadata"].get("annotations") or {}
    events = {e for e in annotations.get("helm.sh/hook", "").split(",") if e}
    return events, int(annotations.get("helm.sh/hook-weight", "0"))


def _named(docs: list[dict[str, Any]], kind: str, suffix: str) -> dict[str, Any]:
    (doc,) = [d for d in by_kind(docs, kind) if d["metadata"]["name"].endswith(suffix)]
    return doc


# --- install order ------------------------------------------------------------------------


def test_the_operator_is_rendered(docs: list[dict[str, Any]]) -> None:
    names = {d["metadata"]["name"] for d in by_kind(docs, "Deployment")}
    assert {"rel-spark-operator-controller", "rel-spark-operator-webhook"} <= names
    assert {d["kind"] for d in docs} >= {
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "CustomResourceDefinition",
    }


def test_no_object_waits_for_a_webhook_of_the_same_release(docs: list[dict[str, Any]]) -> None:
    assert waits_for_own_webhook(docs) == []


def test_wait_never_waits_for_a_claim_only_hooks_consume(docs: list[dict[str, Any]]) -> None:
    """``helm install --wait`` waits for every release claim to be Bound; with a
    WaitForFirstConsumer storage class a claim binds only once a pod uses it. A release
    claim whose only consumers come from hooks (the Spark pods of the SparkApplication
    the post-install hook applies) hung the install on a real cluster until it timed out.
    """
    consumed = set()
    for doc in docs:
        if _hook(doc)[0]:
            continue
        kind = doc.get("kind")
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            volumes = doc["spec"]["template"]["spec"].get("volumes", [])
        elif kind == "Pod":
            volumes = doc["spec"].get("volumes", [])
        else:
            continue
        consumed |= {
            v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v
        }
    claims = [d for d in by_kind(docs, "PersistentVolumeClaim") if not _hook(d)[0]]
    unconsumed = [c["metadata"]["name"] for c in claims if c["metadata"]["name"] not in consumed]
    assert not unconsumed, f"release claims no release pod mounts: {unconsumed}"
    hooked = [d for d in by_kind(docs, "PersistentVolumeClaim") if _hook(d)[0]]
    for claim in hooked:
        assert _hook(claim)[0] == {"pre-install", "pre-upgrade"}, claim["metadata"]["name"]


def test_the_operator_controller_may_create_what_spark_submit_creates(
    docs: list[dict[str, Any]],
) -> None:
    """Spark 4.2's spark-submit (run by the operator's controller) creates a NetworkPolicy
    per application; without this grant every submission failed with 403."""
    controller = _named(docs, "Deployment", "spark-operator-controller")
    account = controller["spec"]["template"]["spec"]["serviceAccountName"]
    binding = _named(docs, "RoleBinding", "spark-submit-networkpolicies")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": binding["metadata"]["namespace"]}
    ]
    role = _named(docs, "Role", "spark-submit-networkpolicies")
    (rule,) = role["rules"]
    assert rule["resources"] == ["networkpolicies"]
    assert {"create", "patch"} <= set(rule["verbs"])


def test_the_webhook_certificate_secret_is_a_release_object(docs: list[dict[str, Any]]) -> None:
    """The webhook creates the Secret named by --webhook-secret-name when it is missing,
    and `helm uninstall` then left it behind; the release creates it (empty) instead."""
    webhook = _named(docs, "Deployment", "spark-operator-webhook")
    (container,) = webhook["spec"]["template"]["spec"]["containers"]
    flags = dict(a.removeprefix("--").split("=", 1) for a in container.get("args", []) if "=" in a)
    secret = _named(docs, "Secret", flags["webhook-secret-name"])
    assert secret["metadata"]["namespace"] == flags["webhook-secret-namespace"]
    assert not _hook(secret)[0]
    assert not secret.get("data")


def test_the_check_catches_a_spark_application_in_the_release(
    docs: list[dict[str, Any]],
) -> None:
    """The defect a real API server found: the SparkApplication as a release object, or
    as a post-install hook (without --wait it runs before the webhook pod is ready)."""
    (app,) = with_carried(docs)[len(docs) :]
    problems = waits_for_own_webhook([*docs, app])
    assert problems, "a SparkApplication in the release must be flagged"
    assert all(p.startswith("SparkApplication/rel-streaming (release object)") for p in problems)
    assert any("mutate-sparkoperator-k8s-io-v1beta2-sparkapplication" in p for p in problems)
    as_hook = copy.deepcopy(app)
    as_hook["metadata"]["annotations"] = {"helm.sh/hook": "post-install,post-upgrade"}
    assert waits_for_own_webhook([*docs, as_hook])
    as_test = copy.deepcopy(app)
    as_test["metadata"]["annotations"] = {"helm.sh/hook": "test"}
    assert waits_for_own_webhook([*docs, as_test]) == []


def test_the_check_catches_a_webhook_that_must_answer_for_its_own_pods(
    docs: list[dict[str, Any]],
) -> None:
    strict = copy.deepcopy(docs)
    (mutating,) = by_kind(strict, "MutatingWebhookConfiguration")
    for hook in mutating["webhooks"]:
        hook.pop("objectSelector", None)
    problems = waits_for_own_webhook(strict)
    assert "Deployment/rel-spark-operator-webhook (its pods) (release object) needs" in "\n".join(
        problems
    )


def test_the_webhook_stays_strict_and_in_the_spark_applications_path(
    docs: list[dict[str, Any]],
) -> None:
    """failurePolicy Fail everywhere; the SparkApplication the hook applies is mutated
    and validated by the operator's webhooks."""
    hooks = webhooks(docs)
    assert hooks
    assert {h.failure_policy for h in hooks} == {"Fail"}
    (app,) = with_carried(docs)[len(docs) :]
    names = {h.name for h in intercepting(app, hooks, {"SparkApplication": "sparkapplications"})}
    assert names == {
        "mutate-sparkoperator-k8s-io-v1beta2-sparkapplication.sparkoperator.k8s.io",
        "validate-sparkoperator-k8s-io-v1beta2-sparkapplication.sparkoperator.k8s.io",
    }


def test_a_hook_applies_the_carried_spark_application_after_the_other_hooks(
    docs: list[dict[str, Any]],
) -> None:
    """The carrier ConfigMap is a release object (uninstall deletes it, and with it the
    app it owns); the apply Job runs after install, upgrade and rollback, after the
    topics and Redis hooks, on the manifest mounted from that ConfigMap."""
    carrier = _named(docs, "ConfigMap", "-streaming-app")
    assert _hook(carrier) == (set(), 0)
    assert set(carrier["data"]) == {SPARK_APPLICATION_KEY}
    job = _named(docs, "Job", "-streaming-apply")
    events, weight = _hook(job)
    assert events == POST_HOOKS
    others = [_hook(d) for d in by_kind(docs, "Job") if d is not job]
    install_hooks = [w for e, w in others if "post-install" in e]
    assert install_hooks
    assert weight > max(install_hooks)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    assert args[:2] == ["k8s", "apply-spark-app"]
    assert args[args.index("--owner-configmap") + 1] == carrier["metadata"]["name"]
    manifest = Path(args[args.index("--manifest") + 1])
    assert manifest.name == SPARK_APPLICATION_KEY
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(manifest.parent)]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == carrier["metadata"]["name"]


def test_no_hooks_installs_everything_but_the_apply_job(tmp_path: Path) -> None:
    """`helm install --no-hooks`: the carrier ConfigMap is installed, nothing applies it."""
    result = template(full_chart(tmp_path), extra=["--no-hooks"])
    assert result.returncode == 0, result.stderr
    names = {(d["kind"], d["metadata"]["name"]) for d in result.documents}
    assert ("ConfigMap", "rel-streaming-app") in names
    assert ("Job", "rel-streaming-apply") not in names
    assert not by_kind(result.documents, "SparkApplication")


# --- resources ------------------------------------------------------------------------------


def test_every_container_has_requests_and_limits(docs: list[dict[str, Any]]) -> None:
    """Release objects, hooks, helm test pods, the operator's Deployments, and the
    SparkApplication's driver and executors (cores, coreLimit, memory)."""
    everything = with_carried(docs)
    assert by_kind(everything, "SparkApplication")
    assert resource_problems(everything) == []


def _cores(quantity: str | int | float) -> float:
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _minikube_docs(full_render_env: dict[str, Result]) -> list[dict[str, Any]]:
    """The render with values/minikube.yaml, the SparkApplication carried out of its
    ConfigMap."""
    result = full_render_env["minikube.yaml"]
    assert result.returncode == 0, result.stderr
    return with_carried([d for d in yaml.load_all(result.stdout, Loader=yaml.CSafeLoader) if d])


def test_minikube_values_fit_a_two_core_node(full_render_env: dict[str, Result]) -> None:
    """values/minikube.yaml is for a small minikube: with Spark pods requesting their whole
    cores (1 each) the release asked for ~3 cores and its Spark pods stayed Pending on a
    real 2-core node. Running pods plus the largest hook or test pod must fit 1.8 cores
    (room for CoreDNS and the storage provisioner)."""
    docs = _minikube_docs(full_render_env)
    running = 0.0
    largest_hook = 0.0
    for doc in docs:
        kind = doc.get("kind")
        hooked = bool(_hook(doc)[0])
        if kind in ("Deployment", "StatefulSet", "Job", "Pod"):
            spec = doc["spec"]["template"]["spec"] if kind != "Pod" else doc["spec"]
            replicas = 1 if kind in ("Job", "Pod") else int(doc["spec"].get("replicas", 1))
            cpu = sum(_cores(c["resources"]["requests"]["cpu"]) for c in spec.get("containers", []))
            if hooked or kind in ("Job", "Pod"):
                largest_hook = max(largest_hook, cpu)
            else:
                running += replicas * cpu
        elif kind == "SparkApplication":
            driver, executor = doc["spec"]["driver"], doc["spec"]["executor"]
            running += _cores(driver.get("coreRequest", driver["cores"]))
            running += int(executor["instances"]) * _cores(
                executor.get("coreRequest", executor["cores"])
            )
    assert running + largest_hook <= 1.8, (running, largest_hook)


def test_minikube_values_run_every_jvm_with_the_quick_compiler_only(
    full_render_env: dict[str, Result],
) -> None:
    """On a 2-core node the JVMs' start-up compiling was about 40% of their CPU (C2
    threads, measured on the e2e node), so values/minikube.yaml stops them at C1: each
    JVM it starts gets the flag through the variable or property its launcher reads."""
    docs = _minikube_docs(full_render_env)
    flag = "-XX:TieredStopAtLevel=1"

    def env(statefulset: str) -> dict[str, str]:
        (doc,) = [d for d in by_kind(docs, "StatefulSet") if d["metadata"]["name"] == statefulset]
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        return {e["name"]: e.get("value", "") for e in container.get("env", [])}

    assert flag in env(f"{RELEASE}-zookeeper")["SERVER_JVMFLAGS"].split()
    assert env(f"{RELEASE}-kafka")["KAFKA_OPTS"].split() == [flag]
    (app,) = by_kind(docs, "SparkApplication")
    conf = app["spec"]["sparkConf"]
    assert conf["spark.driver.defaultJavaOptions"] == flag
    assert conf["spark.executor.defaultJavaOptions"] == flag


def test_the_resource_walk_names_what_lacks_them() -> None:
    cron = {
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "initContainers": [{"name": "wait", "resources": {}}],
                            "containers": [
                                {
                                    "name": "run",
                                    "resources": {
                                        "requests": {"cpu": "1", "memory": "1Gi"},
                                        "limits": {"cpu": "1"},
                                    },
                                }
                            ],
                        }
                    }
                }
            }
        },
    }
    app = {
        "kind": "SparkApplication",
        "metadata": {"name": "job"},
        "spec": {"driver": {"cores": 1, "memory": "1g"}, "executor": {}},
    }
    assert resource_problems([cron, app]) == [
        "CronJob/nightly: container spec.jobTemplate.spec.template.spec.initContainers[wait]: "
        "no requests for cpu, memory",
        "CronJob/nightly: container spec.jobTemplate.spec.template.spec.initContainers[wait]: "
        "no limits for cpu, memory",
        "CronJob/nightly: container spec.jobTemplate.spec.template.spec.containers[run]: "
        "no limits for memory",
        "SparkApplication/job: driver: no coreLimit",
        "SparkApplication/job: executor: no cores, coreLimit, memory",
    ]


def test_operator_resources_follow_the_values(env: str, docs: list[dict[str, Any]]) -> None:
    operator = _chart_values(env).spark_operator
    expected = {
        "rel-spark-operator-controller": operator.controller.resources,
        "rel-spark-operator-webhook": operator.webhook.resources,
    }
    for name, resources in expected.items():
        (deployment,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == name]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["resources"] == resources.model_dump(mode="json"), name
