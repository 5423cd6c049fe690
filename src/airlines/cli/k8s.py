"""``airlines k8s``: Kubernetes API tasks of the chart's hooks.

``apply-spark-app`` is what the streaming subchart's post-install/upgrade/rollback hook
runs: the SparkApplication cannot be a release object, because the Spark Operator's
webhook (installed by the same release, failurePolicy Fail) must answer for it.
``stop-statefulset`` is the Kafka subchart's pre-delete hook: the brokers shut down in a
controlled way while ZooKeeper still runs, before ``helm uninstall`` deletes the rest.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from airlines.cli.common import console, fail, say_error
from airlines.config.types import format_duration, parse_duration

KubeconfigOption = Annotated[
    Path | None,
    typer.Option(
        help="Use this kubeconfig (its current context) instead of the pod's service account.",
        dir_okay=False,
    ),
]


def _checked_timeout_and_kubeconfig(timeout: str, kubeconfig: Path | None) -> timedelta:
    """The parsed --timeout; exits naming the option if it or --kubeconfig is wrong."""
    try:
        limit = parse_duration(timeout)
    except ValueError as exc:
        fail(f"--timeout: {exc}")
    if kubeconfig is not None and not kubeconfig.is_file():
        fail(f"--kubeconfig: {kubeconfig}: no such file")
    return limit


app = typer.Typer(
    help="Kubernetes API tasks of the chart's hooks (with the pod's service account).",
    no_args_is_help=True,
)


@app.command("apply-spark-app")
def apply_spark_app(
    manifest: Annotated[
        Path,
        typer.Option(help="The SparkApplication manifest (YAML).", dir_okay=False),
    ],
    owner_configmap: Annotated[
        str,
        typer.Option(
            help="ConfigMap of the same namespace that owns the SparkApplication: deleting "
            "it (helm uninstall) deletes the app and its pods."
        ),
    ],
    timeout: Annotated[
        str,
        typer.Option(
            help="Keep retrying while the API server or the Spark Operator's webhook does "
            "not answer, up to this long."
        ),
    ] = "300s",
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Server-side apply a SparkApplication once the Spark Operator's webhook answers.

    Sets its owner to the ConfigMap, then applies it with a fixed field manager (an
    unchanged manifest is a no-op; a changed one makes the operator restart the job).
    Retries while the webhook or the API server does not answer (500 "failed calling
    webhook", no connection, 429/502/503/504); any other error fails at once. Prints
    created, configured or unchanged; exits 1 if it could not apply.
    """
    from airlines.ops.k8s.apply import ApplyError, SparkAppApi, apply_spark_application
    from airlines.ops.k8s.client import ClientConfigError, KubernetesSparkAppApi, pod_namespace
    from airlines.ops.k8s.manifest import ManifestError, check_name, load_spark_application

    limit = _checked_timeout_and_kubeconfig(timeout, kubeconfig)
    try:
        check_name(owner_configmap, "--owner-configmap")
        app_manifest = load_spark_application(manifest)
    except ManifestError as exc:
        fail(str(exc))
    namespace = app_manifest["metadata"].get("namespace") or pod_namespace()
    if not namespace:
        fail(f"{manifest}: metadata.namespace: required outside a pod")

    def connect() -> SparkAppApi:
        api = KubernetesSparkAppApi(kubeconfig)
        api.discover()
        return api

    name = app_manifest["metadata"]["name"]
    console.print(
        f"applying sparkapplication {name} in namespace {namespace} "
        f"(owner configmap/{owner_configmap}; up to {format_duration(limit)})",
        highlight=False,
    )
    try:
        result = apply_spark_application(
            connect,
            app_manifest,
            namespace,
            owner_configmap,
            limit.total_seconds(),
            log=say_error,
        )
    except ClientConfigError as exc:
        fail(str(exc))
    except ApplyError as exc:
        fail(f"sparkapplication {name}: {exc}", 1)
    console.print(
        f"sparkapplication.sparkoperator.k8s.io/{result.name} {result.outcome} "
        f"(namespace {result.namespace}, owner configmap/{result.owner}, "
        f"{result.attempts} attempt{'s' if result.attempts != 1 else ''})",
        highlight=False,
    )


@app.command("stop-statefulset")
def stop_statefulset(
    name: Annotated[str, typer.Argument(help="The StatefulSet (of the pod's namespace).")],
    namespace: Annotated[
        str | None,
        typer.Option(help="Its namespace. Default: the pod's own (required outside a pod)."),
    ] = None,
    timeout: Annotated[str, typer.Option(help="Wait this long for its pods to be gone.")] = "120s",
    best_effort: Annotated[
        bool,
        typer.Option(
            "--best-effort",
            help="Report a failure as a warning and exit 0 (a pre-delete hook that fails "
            "would stop `helm uninstall`).",
        ),
    ] = False,
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Scale a StatefulSet to 0 and wait until its pods are gone.

    What the Kafka subchart's pre-delete hook runs: the brokers shut down in a controlled
    way while ZooKeeper still answers, before `helm uninstall` deletes the rest. Retries
    while the API server does not answer; exits 1 if the pods are still there after
    --timeout (0 with --best-effort, after saying so).
    """
    from airlines.ops.k8s.client import ClientConfigError, KubernetesStatefulSetApi, pod_namespace
    from airlines.ops.k8s.manifest import ManifestError, check_name
    from airlines.ops.k8s.stop import StopError
    from airlines.ops.k8s.stop import stop_statefulset as stop

    limit = _checked_timeout_and_kubeconfig(timeout, kubeconfig)
    try:
        check_name(name, "NAME")
        if namespace is not None:
            check_name(namespace, "--namespace")
    except ManifestError as exc:
        fail(str(exc))
    namespace = namespace or pod_namespace()
    if not namespace:
        fail("--namespace: required outside a pod")
    console.print(
        f"stopping statefulset {name} in namespace {namespace} (up to {format_duration(limit)})",
        highlight=False,
    )
    try:
        result = stop(
            KubernetesStatefulSetApi(kubeconfig),
            namespace,
            name,
            limit.total_seconds(),
            log=say_error,
        )
    except (ClientConfigError, StopError) as exc:
        if best_effort:
            say_error(f"warning: statefulset {name}: {exc} (--best-effort: carrying on)")
            return
        fail(f"statefulset {name}: {exc}", 1)
    if result.replicas_before is not None:
        console.print(
            f"statefulset.apps/{name} stopped: {result.replicas_before} pods gone in "
            f"{result.seconds:.1f}s",
            highlight=False,
        )
