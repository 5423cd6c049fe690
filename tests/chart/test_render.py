"""The chart renders, lints and validates for the defaults and every values/*.yaml.

Offline: the spark-operator dependency is left out of the rendered copy (see helm.py);
``test_helm_needs_every_dependency`` shows why (test_operator.py renders it too). The
SparkApplication is not a release object but the manifest a ConfigMap carries for the
hook that applies it: the checks below read it from there (``with_carried``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.chart.conftest import chart_values_of, namespace_of, values_path
from tests.chart.helm import (
    RELEASE,
    Result,
    run,
    template,
    tool,
    without_dependencies,
)
from tests.chart.manifests import by_kind, containers, names, pod_specs, selects, with_carried

from airlines.config import load_config
from airlines.config.types import split_endpoint

pytestmark = pytest.mark.chart


def test_helm_needs_every_dependency(tmp_path: Path) -> None:
    """Helm will not render with spark-operator missing, even when it is disabled."""
    result = template(without_dependencies(tmp_path), sets=["spark-operator.enabled=false"])
    assert result.returncode != 0
    assert "spark-operator" in result.stderr


def test_lint_strict(env: str, chart_copy: Path) -> None:
    path = values_path(env)
    args = [tool("helm"), "lint", "--strict", str(chart_copy), "--namespace", namespace_of(env)]
    if path:
        args += ["--values", str(path)]
    result = run(args)
    assert result.returncode == 0, result.stdout + result.stderr


KUBERNETES_VERSION = "1.37.0"


@pytest.fixture(scope="session")
def kubernetes_schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kubernetes-validate's offline schemas, laid out and linked for kubeconform.

    Its per-kind files refer to definitions as ``/api/_definitions.json#...``, resolved
    against their ``$id`` (https://kubernetes.io/...) by its own Python registry; for
    kubeconform, the copies point at the ``_definitions.json`` file beside them.
    """
    import kubernetes_validate

    source = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    root = tmp_path_factory.mktemp("kubernetes-json-schema")
    for suffix in ("", "-strict"):
        src = source / f"v{KUBERNETES_VERSION}-local{suffix}"
        dest = root / f"v{KUBERNETES_VERSION}-standalone{suffix}"
        dest.mkdir()
        definitions = (dest / "_definitions.json").as_uri()
        for schema in src.glob("*.json"):
            text = schema.read_text(encoding="utf-8")
            text = text.replace('"/api/_definitions.json#', f'"{definitions}#')
            (dest / schema.name).write_text(text, encoding="utf-8")
    return root


def test_kubeconform_strict(
    env: str, render_env: dict[str, Result], kubernetes_schemas: Path, tmp_path: Path
) -> None:
    """Every Kubernetes object against the offline JSON schemas (kubernetes-validate),
    and the SparkApplication the hook applies is there (skipped: no schema; the test
    below checks it against the operator's API models)."""
    manifest = tmp_path / "render.yaml"
    carried = with_carried(render_env[env].documents)[len(render_env[env].documents) :]
    assert len(carried) == 1
    manifest.write_text(
        render_env[env].stdout + "\n---\n" + yaml.safe_dump_all(carried), encoding="utf-8"
    )
    result = run(
        [
            tool("kubeconform"),
            "-strict",
            "-summary",
            "-kubernetes-version",
            KUBERNETES_VERSION,
            "-schema-location",
            str(kubernetes_schemas),
            # Validated against kubeflow-spark-api's models instead (test below).
            "-skip",
            "SparkApplication",
            str(manifest),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Invalid: 0, Errors: 0" in result.stdout, result.stdout
    assert "Skipped: 1" in result.stdout, result.stdout


def test_kubeconform_catches_unknown_fields(kubernetes_schemas: Path, tmp_path: Path) -> None:
    """The schemas are really applied (strict: an unknown field fails)."""
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x}\nautomountToken: false\n"
    )
    result = run(
        [
            tool("kubeconform"),
            "-strict",
            "-kubernetes-version",
            KUBERNETES_VERSION,
            "-schema-location",
            str(kubernetes_schemas),
            str(manifest),
        ]
    )
    assert result.returncode == 1
    assert "automountToken" in result.stdout


def _unknown_fields(model: Any, data: Any, path: str) -> list[str]:
    """Keys the generated SparkApplication models do not know (they ignore extras)."""
    from typing import get_args, get_origin

    from pydantic import BaseModel

    if not isinstance(data, dict) or not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    fields = {(f.alias or n): f for n, f in model.model_fields.items()}
    problems = []
    for key, value in data.items():
        if key not in fields:
            problems.append(f"{path}.{key}")
            continue
        annotation = fields[key].annotation
        candidates = [annotation, *get_args(annotation)]
        for candidate in list(candidates):
            candidates += get_args(candidate)
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            continue
        is_list = any(get_origin(c) is list for c in [annotation, *get_args(annotation)])
        if is_list and isinstance(value, list):
            for i, item in enumerate(value):
                problems += _unknown_fields(nested[0], item, f"{path}.{key}[{i}]")
        elif isinstance(value, dict):
            problems += _unknown_fields(nested[0], value, f"{path}.{key}")
    return problems


def test_spark_application_matches_the_operator_api(docs: list[dict[str, Any]]) -> None:
    from kubeflow_spark_api.models import (  # type: ignore[import-untyped]
        SparkV1beta2SparkApplication,
    )

    (app,) = by_kind(docs, "SparkApplication")
    assert app["apiVersion"] == "sparkoperator.k8s.io/v1beta2"
    assert _unknown_fields(SparkV1beta2SparkApplication, app, "SparkApplication") == []
    parsed = SparkV1beta2SparkApplication.from_dict(app)
    assert parsed is not None
    spec = parsed.spec
    assert (spec.type, spec.mode) == ("Python", "cluster")
    assert spec.main_application_file == "local:///opt/airlines/jobs/flight_analytics.py"
    assert spec.arguments[:2] == ["--config", "/etc/airlines/config.yaml"]
    # /metrics of the job on the driver, where its NetworkPolicy and Service expect it.
    port = str(spec.driver.ports[0].container_port)
    assert spec.arguments[2:] == ["--metrics-port", port, "--metrics-host", "0.0.0.0"]
    assert spec.driver.annotations["prometheus.io/port"] == port
    assert spec.restart_policy is not None
    assert spec.restart_policy.type in {"Always", "OnFailure"}


def _mebibytes(size: str) -> float:
    """A Spark/JVM size ("640m", "1g", "512") in MiB."""
    units = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
    text = size.strip().lower().removesuffix("b")
    if text[-1:] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text) / (1024 * 1024)


def test_spark_pods_have_room_beyond_the_heap(docs: list[dict[str, Any]]) -> None:
    """A PySpark pod holds the JVM's heap, the JVM's own memory (metaspace, threads,
    Netty buffers: ~400 MiB for Spark with the Kafka source) and the Python process. With
    Spark's default overhead (40 % of the heap, at least 384 MiB) the minikube values'
    driver and executor were OOM-killed on a real cluster; every values file must leave
    at least 512 MiB beyond the heap."""
    (app,) = by_kind(docs, "SparkApplication")
    for role in ("driver", "executor"):
        part = app["spec"][role]
        overhead = part.get("memoryOverhead")
        assert overhead is not None, f"{role}: memoryOverhead unset (Spark's default is too small)"
        assert _mebibytes(overhead) >= 512, f"{role}: memoryOverhead {overhead} < 512m"


def test_config_map_is_the_app_config(env: str, docs: list[dict[str, Any]], tmp_path: Path) -> None:
    """The rendered config loads with airlines.config.load_config, as the pods load it."""
    (config_map,) = [
        d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-config")
    ]
    path = tmp_path / "config.yaml"
    path.write_text(config_map["data"]["config.yaml"], encoding="utf-8")
    config = load_config(path)
    assert config == chart_values_of(env).app_config(RELEASE, namespace_of(env))


def test_references_resolve(docs: list[dict[str, Any]]) -> None:
    """Service accounts, ConfigMaps, Secrets and claims a pod names exist in the render."""
    accounts = names(docs, "ServiceAccount")
    config_maps = names(docs, "ConfigMap")
    secrets = names(docs, "Secret")
    claims = names(docs, "PersistentVolumeClaim")
    for pod in pod_specs(docs):
        account = pod.spec.get("serviceAccount" if pod.spark else "serviceAccountName")
        assert account in accounts, f"{pod.where}: service account {account!r} not rendered"
        volumes = pod.spec.get("volumes", [])
        if pod.spark:
            (app,) = by_kind(docs, "SparkApplication")
            volumes = app["spec"]["volumes"]
        for volume in volumes:
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps, pod.where
            for ref, keys in _secret_refs(volume):
                assert ref in secrets, f"{pod.where}: Secret {ref} missing"
                (secret,) = [s for s in by_kind(docs, "Secret") if s["metadata"]["name"] == ref]
                assert set(keys) <= set(secret.get("data") or {}), f"{pod.where}: {ref} {keys}"
            for source in volume.get("projected", {}).get("sources", []):
                if "configMap" in source:
                    assert source["configMap"]["name"] in config_maps, pod.where
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, pod.where
        mounted = {v["name"] for v in volumes} | pod.claim_templates
        for container in containers(pod):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in mounted, f"{pod.where}: mount {mount['name']} has no volume"
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in secrets, f"{pod.where}: Secret {ref['name']} missing"
                    (secret,) = [
                        s for s in by_kind(docs, "Secret") if s["metadata"]["name"] == ref["name"]
                    ]
                    assert ref["key"] in secret["data"], pod.where


def _secret_refs(volume: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(Secret, keys it must hold) of a secret or projected volume."""
    found = []
    if "secret" in volume:
        items = volume["secret"].get("items", [])
        found.append((volume["secret"]["secretName"], [i["key"] for i in items]))
    for source in volume.get("projected", {}).get("sources", []):
        if "secret" in source:
            items = source["secret"].get("items", [])
            found.append((source["secret"]["name"], [i["key"] for i in items]))
    return found


def test_config_hosts_exist(env: str, docs: list[dict[str, Any]]) -> None:
    """Every host:port in the config is a pod of a rendered StatefulSet behind its headless
    Service, on a port that Service exposes; the namespace is the release's."""
    (config_map,) = [
        d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-config")
    ]
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    services = {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}
    sets = {s["metadata"]["name"]: s for s in by_kind(docs, "StatefulSet")}
    endpoints = [*config["kafka"]["bootstrapServers"], *config["redis"]["nodes"]]
    assert endpoints
    for endpoint in endpoints:
        host, port = split_endpoint(endpoint)
        pod, service, namespace, svc, domain = host.split(".", 4)
        assert (namespace, svc, domain) == (namespace_of(env), "svc", "cluster.local"), endpoint
        assert services[service]["spec"]["clusterIP"] == "None", endpoint
        assert services[service]["spec"]["publishNotReadyAddresses"] is True
        assert port in {p["port"] for p in services[service]["spec"]["ports"]}, endpoint
        set_name, ordinal = pod.rsplit("-", 1)
        assert sets[set_name]["spec"]["serviceName"] == service, endpoint
        assert int(ordinal) < sets[set_name]["spec"]["replicas"], endpoint
        assert selects(
            services[service]["spec"]["selector"],
            sets[set_name]["spec"]["template"]["metadata"]["labels"],
        )


def test_kafka_reaches_zookeeper_by_a_rendered_service(docs: list[dict[str, Any]]) -> None:
    (scripts,) = [
        d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-kafka-scripts")
    ]
    lines = scripts["data"]["start.sh"].splitlines()
    line = next(text for text in lines if "zookeeper.connect=" in text)
    host, port = split_endpoint(line.split("=", 1)[1].strip())
    service = next(
        s for s in by_kind(docs, "Service") if host.startswith(s["metadata"]["name"] + ".")
    )
    assert port in {p["port"] for p in service["spec"]["ports"]}


def _startup_window(statefulset: dict[str, Any]) -> int:
    """Seconds the kubelet gives the StatefulSet's container to start (its startup probe)."""
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    probe = container["startupProbe"]
    return int(probe["periodSeconds"]) * int(probe["failureThreshold"])


def test_brokers_wait_for_a_zookeeper_ensemble_started_beside_them(
    docs: list[dict[str, Any]],
) -> None:
    """Brokers and ZooKeeper servers start in parallel, and forming an ensemble of three
    took ~40 s on the e2e cluster: a broker that gave up on ZooKeeper after 30 s exited
    and crash-looped (every dev install restarted all three). A broker waits for
    ZooKeeper most of its own startup window and gives up (with its own message) before
    its probe kills it."""
    sets = {s["metadata"]["name"].rsplit("-", 1)[-1]: s for s in by_kind(docs, "StatefulSet")}
    assert sets["kafka"]["spec"]["podManagementPolicy"] == "Parallel"
    assert sets["zookeeper"]["spec"]["podManagementPolicy"] == "Parallel"
    (scripts,) = [
        d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-kafka-scripts")
    ]
    setting = "zookeeper.connection.timeout.ms="
    (line,) = [x.strip() for x in scripts["data"]["start.sh"].splitlines() if setting in x]
    wait = int(line.removeprefix(setting)) / 1000
    window = _startup_window(sets["kafka"])
    assert window - 90 <= wait < window, (wait, window)
    assert wait >= 2 * 60, wait


def test_hooks_and_tests_clean_up(docs: list[dict[str, Any]]) -> None:
    hooked = [d for d in docs if "helm.sh/hook" in d["metadata"].get("annotations", {})]
    kinds = {(d["kind"], d["metadata"]["annotations"]["helm.sh/hook"]) for d in hooked}
    assert ("Pod", "test") in kinds
    assert ("Job", "post-install,post-upgrade") in kinds
    for doc in hooked:
        policy = doc["metadata"]["annotations"].get("helm.sh/hook-delete-policy", "")
        if doc["kind"] == "PersistentVolumeClaim":
            # The checkpoint claim: created once, never deleted by Helm (it is data).
            assert policy == "hook-failed", doc["metadata"]["name"]
            continue
        assert "before-hook-creation" in policy, doc["metadata"]["name"]
