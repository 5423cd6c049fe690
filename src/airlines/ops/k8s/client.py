"""The cluster side of the hooks, through the official ``kubernetes`` client.

The dynamic client discovers the SparkApplication resource (a CRD) and has
``server_side_apply``. In a pod the service account's token and the API server's address
come from the in-cluster config; outside one, from a kubeconfig.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

from airlines.ops.k8s.errors import NotServedError
from airlines.ops.k8s.manifest import SPARK_API_VERSION, SPARK_KIND

#: The field manager of every apply: the same one each time, so an unchanged manifest is
#: a no-op and fields it no longer sets are removed.
FIELD_MANAGER = "airlines-analytics"
#: Per request (the webhook's own timeout is 10 s).
REQUEST_TIMEOUT = 30.0
#: Where a pod finds its namespace.
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class ClientConfigError(Exception):
    """No way to reach the API server: not in a pod, and no kubeconfig given."""


def pod_namespace() -> str | None:
    """The namespace of the pod this runs in, None outside a pod."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _api_client(kubeconfig: Path | None) -> Any:
    configuration = client.Configuration()
    try:
        if kubeconfig is not None:
            config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        else:
            config.load_incluster_config(client_configuration=configuration)
    except ConfigException as exc:
        where = f"kubeconfig {kubeconfig}" if kubeconfig else "the in-cluster config"
        raise ClientConfigError(
            f"cannot use {where}: {exc} (outside a pod, pass --kubeconfig)"
        ) from None
    # Failed requests come back to the caller at once: it decides what to retry.
    configuration.retries = 0
    return client.ApiClient(configuration)


class KubernetesSparkAppApi:
    """:class:`airlines.ops.k8s.apply.SparkAppApi` on a real API server."""

    def __init__(self, kubeconfig: Path | None = None) -> None:
        self._api_client = _api_client(kubeconfig)
        self._dynamic: Any = None

    def _resource(self, api_version: str, kind: str) -> Any:
        if self._dynamic is None:
            self._dynamic = DynamicClient(self._api_client)  # discovery: calls the API
        try:
            return self._dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            raise NotServedError(api_version, kind) from None

    def discover(self) -> None:
        """Find the SparkApplication resource (raises if the cluster does not serve it)."""
        self._resource(SPARK_API_VERSION, SPARK_KIND)

    def config_map_uid(self, namespace: str, name: str) -> str:
        config_maps = self._resource("v1", "ConfigMap")
        found = config_maps.get(name=name, namespace=namespace, _request_timeout=REQUEST_TIMEOUT)
        return str(found.metadata.uid)

    def get_spark_application(self, namespace: str, name: str) -> dict[str, Any] | None:
        apps = self._resource(SPARK_API_VERSION, SPARK_KIND)
        try:
            found = apps.get(name=name, namespace=namespace, _request_timeout=REQUEST_TIMEOUT)
        except NotFoundError:
            return None
        stored: dict[str, Any] = found.to_dict()
        return stored

    def apply_spark_application(self, manifest: dict[str, Any]) -> dict[str, Any]:
        apps = self._resource(SPARK_API_VERSION, SPARK_KIND)
        applied = self._dynamic.server_side_apply(
            apps,
            body=manifest,
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
            _request_timeout=REQUEST_TIMEOUT,
        )
        stored: dict[str, Any] = applied.to_dict()
        return stored


class KubernetesStatefulSetApi:
    """:class:`airlines.ops.k8s.stop.StatefulSetApi` on a real API server."""

    def __init__(self, kubeconfig: Path | None = None) -> None:
        api_client = _api_client(kubeconfig)
        self._apps = client.AppsV1Api(api_client)
        self._core = client.CoreV1Api(api_client)

    def get_replicas(self, namespace: str, name: str) -> int | None:
        try:
            scale = self._apps.read_namespaced_stateful_set_scale(
                name, namespace, _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return int(scale.spec.replicas or 0) if scale.spec is not None else 0

    def scale(self, namespace: str, name: str, replicas: int) -> None:
        self._apps.patch_namespaced_stateful_set_scale(
            name, namespace, {"spec": {"replicas": replicas}}, _request_timeout=REQUEST_TIMEOUT
        )

    def pod_exists(self, namespace: str, name: str) -> bool:
        try:
            self._core.read_namespaced_pod(name, namespace, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True
