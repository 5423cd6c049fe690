"""``dashboard`` and monitoring: the web dashboard (its Deployment, Service, optional
Ingress), ``global.monitoring`` (ServiceMonitors, the Grafana dashboard, who may scrape)
and the ``metrics`` endpoint of the producers and the streaming job.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from airlines.config.chart.blocks import (
    ChartSection,
    Disruption,
    Port,
    Resources,
    Scheduling,
    SubchartValues,
    resources,
)
from airlines.config.types import Duration
from airlines.metrics import (
    DASHBOARD_METRICS_PORT,
    DASHBOARD_PORT,
    JOB_METRICS_PORT,
    PRODUCER_METRICS_PORT,
)


class MetricsEndpoint(ChartSection):
    """A component's /metrics (Prometheus text format)."""

    enabled: bool = Field(True, description="Serve /metrics and announce it for scraping.")
    port: Port = Field(description="Container port of /metrics.")


class ServiceMonitorValues(ChartSection):
    """prometheus-operator ServiceMonitors (rendered only where its API exists)."""

    enabled: bool = Field(
        True,
        description="Render a ServiceMonitor per component when the cluster serves "
        "monitoring.coreos.com/v1 (kube-prometheus-stack); nothing otherwise.",
    )
    interval: Duration = Field(timedelta(seconds=30), description="Scrape interval.")
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Extra labels, e.g. the `release` label your Prometheus selects.",
    )


class GrafanaDashboardValues(ChartSection):
    """The Grafana dashboard, as a ConfigMap Grafana's sidecar loads."""

    enabled: bool = Field(True, description="Ship the Grafana dashboard ConfigMap.")
    labels: dict[str, str] = Field(
        default_factory=lambda: {"grafana_dashboard": "1"},
        description="Labels the Grafana sidecar looks for (kube-prometheus-stack: "
        'grafana_dashboard: "1").',
    )
    annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Annotations, e.g. grafana_folder for the sidecar's folder support.",
    )


class MonitoringValues(ChartSection):
    """How Prometheus finds and reaches every component's /metrics, and Grafana."""

    service_monitor: ServiceMonitorValues = Field(
        default_factory=ServiceMonitorValues, description="ServiceMonitors."
    )
    grafana_dashboard: GrafanaDashboardValues = Field(
        default_factory=GrafanaDashboardValues, description="Grafana dashboard."
    )
    scrape_from: list[dict[str, Any]] = Field(
        default_factory=lambda: [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ],
        description="NetworkPolicy peers (podSelector/namespaceSelector/ipBlock objects) "
        "that may reach the /metrics ports: the pods of the `monitoring` namespace by "
        "default (kube-prometheus-stack's usual home); an empty list opens them to any "
        "pod of any namespace.",
    )


class DashboardService(ChartSection):
    """The dashboard's Service."""

    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(
        "ClusterIP", description="Service type."
    )
    port: Port = Field(80, description="Service port.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations.")


class DashboardIngress(ChartSection):
    """An optional Ingress in front of the dashboard."""

    enabled: bool = Field(False, description="Create an Ingress.")
    class_name: str = Field("", description="IngressClass; empty for the cluster default.")
    host: str = Field(
        "",
        pattern=r"^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="Host name; empty: any host.",
    )
    path: str = Field("/", pattern=r"^/", description="Path prefix.")
    tls_secret: str = Field(
        "", description="Secret with the TLS certificate for host; empty: plain HTTP."
    )
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations.")


class DashboardAuth(ChartSection):
    """Who may open the dashboard."""

    mode: Literal["token", "proxy", "none"] = Field(
        "token",
        description="token: the dashboard asks for a token, from a Secret the chart "
        "generates (random, kept across upgrades; the notes show how to read it) or from "
        "existingSecret; open `/?token=<token>` once, a session cookie does the rest. "
        "proxy: an authenticating proxy in front (e.g. an ingress with oauth2-proxy) "
        "does it, and the dashboard trusts it: set allowedFrom to that proxy, the only "
        "one its NetworkPolicy then admits. none: nobody is asked (needs allowInsecure).",
    )
    existing_secret: str = Field(
        "",
        pattern=r"^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        max_length=253,
        description="mode token: a Secret of yours holding the token (at least 16 "
        "printable ASCII characters); empty: the chart generates one.",
    )
    existing_secret_key: str = Field(
        "token", min_length=1, pattern=r"^[-._a-zA-Z0-9]+$", description="Key in it."
    )
    allow_insecure: bool = Field(
        False,
        description="Allow mode none: anyone who reaches the dashboard reads it (the "
        "notes say so).",
    )


class DashboardValues(SubchartValues):
    """The web dashboard (`airlines dashboard`): read-only, from Redis."""

    replica_count: int = Field(1, ge=1, le=10, description="Pods (they share nothing).")
    stale_after: Duration | None = Field(
        None,
        description="Call the pipeline stale when its last batch is older than this; "
        "null: 3 triggers, at least 1m.",
    )
    service: DashboardService = Field(default_factory=DashboardService, description="Service.")
    ingress: DashboardIngress = Field(default_factory=DashboardIngress, description="Ingress.")
    auth: DashboardAuth = Field(default_factory=DashboardAuth, description="Authentication.")
    metrics: MetricsEndpoint = Field(
        default_factory=lambda: MetricsEndpoint(port=DASHBOARD_METRICS_PORT),
        description="/metrics, on a port of its own (its Service port `metrics`), which "
        "only global.monitoring.scrapeFrom may reach.",
    )
    allowed_from: list[dict[str, Any]] = Field(
        default_factory=list,
        description="NetworkPolicy peers that may open the dashboard's page (e.g. the "
        "ingress controller's namespace); empty: anyone (who then needs the token). "
        "Required with auth.mode proxy: the proxy, and only it.",
    )
    resources: Resources = Field(
        default_factory=lambda: resources("50m", "192Mi", "500m"), description="Resources."
    )
    pdb: Disruption = Field(
        default_factory=Disruption,
        description="Disruption budget (rendered with more than one replica).",
    )
    scheduling: Scheduling = Field(default_factory=Scheduling, description="Placement.")

    @model_validator(mode="after")
    def _auth(self) -> DashboardValues:
        if self.auth.mode == "none" and not self.auth.allow_insecure:
            raise ValueError(
                "auth.mode: none needs auth.allowInsecure: true (anyone who reaches the "
                "dashboard could then read it)"
            )
        if self.auth.mode == "proxy" and not self.allowed_from:
            raise ValueError(
                "allowedFrom: required with auth.mode proxy (the dashboard trusts whoever "
                "reaches it: its NetworkPolicy must admit the authenticating proxy only)"
            )
        if self.auth.existing_secret and self.auth.mode != "token":
            raise ValueError(
                f"auth.existingSecret: only with auth.mode token, not {self.auth.mode}"
            )
        if self.metrics.enabled and self.metrics.port == DASHBOARD_PORT:
            raise ValueError(
                f"metrics.port: {DASHBOARD_PORT} is the page's port; metrics need their own"
            )
        return self


def producer_metrics() -> MetricsEndpoint:
    return MetricsEndpoint(port=PRODUCER_METRICS_PORT)


def job_metrics() -> MetricsEndpoint:
    return MetricsEndpoint(port=JOB_METRICS_PORT)
