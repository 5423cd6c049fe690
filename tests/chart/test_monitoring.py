"""The chart's monitoring and the dashboard's Redis user agree with the code.

* The ACL rules the Redis nodes give the dashboard's user are those of
  :func:`airlines.store.readonly.acl_rules` (which the integration tests apply to a
  real Redis Cluster and read the analytics with);
* every metric the Grafana dashboard queries is one the components expose
  (:data:`airlines.metrics.METRICS`), and it shows throughput, freshness, dead letters
  and Redis writes;
* the ServiceMonitors render, and only where the prometheus-operator's API exists.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.chart.helm import CHART, Result, template
from tests.chart.manifests import by_kind

from airlines.metrics import METRICS
from airlines.store.readonly import acl_rules
from airlines.store.users import ADMIN_ONLY, REPLICATION_COMMANDS, WRITER_COMMANDS

pytestmark = pytest.mark.chart

GRAFANA = CHART / "dashboards" / "airlines-analytics.json"


def test_the_redis_nodes_give_the_dashboard_the_rules_of_the_code(
    render_env: dict[str, Result],
) -> None:
    docs = render_env["default"].documents
    name = "rel-redis-cluster-scripts"
    (scripts,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == name]
    line = next(x for x in scripts["data"]["start.sh"].splitlines() if 'echo "user reader ' in x)
    match = re.search(r'user (\S+) on #\$\(hash_of reader\) (.*)"$', line)
    assert match, line
    assert match[2].split() == acl_rules("aa")


def test_the_redis_nodes_give_the_writer_and_replicas_what_the_code_needs(
    render_env: dict[str, Result],
) -> None:
    """The chart's writer may send every command the sink sends (the local stack's table,
    which the integration tests prove against a real cluster), and the replication user
    exactly what a replica needs; neither any admin-only command."""
    docs = render_env["default"].documents
    name = "rel-redis-cluster-scripts"
    (scripts,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == name]
    rules = {}
    for user in ("writer", "replication"):
        line = next(
            x for x in scripts["data"]["start.sh"].splitlines() if f'echo "user {user} ' in x
        )
        rules[user] = {r[1:] for r in line.rstrip('"').split() if r.startswith("+")}
    assert set(WRITER_COMMANDS) <= rules["writer"], set(WRITER_COMMANDS) - rules["writer"]
    assert rules["replication"] == set(REPLICATION_COMMANDS)
    for granted in rules.values():
        assert not granted & set(ADMIN_ONLY), granted & set(ADMIN_ONLY)


def _expressions(dashboard: dict[str, object]) -> list[str]:
    return [
        target["expr"]
        for panel in dashboard["panels"]  # type: ignore[attr-defined]
        for target in panel.get("targets", [])
    ]


def test_the_grafana_dashboard_queries_only_exposed_metrics() -> None:
    dashboard = json.loads(GRAFANA.read_text(encoding="utf-8"))
    exposed = {series for spec in METRICS for series in spec.series}
    used = set()
    for expr in _expressions(dashboard):
        used |= set(re.findall(r"\bairlines_[a-z_]+", expr))
    assert used, "the dashboard queries nothing"
    assert used - exposed == set(), f"unknown metrics: {sorted(used - exposed)}"
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("throughput", "freshness", "dead letters", "redis writes"):
        assert topic in titles, topic
    # kube-prometheus-stack's convention: a data source variable, no fixed data source.
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert "datasource" in names
    assert all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"])


def test_service_monitors_only_where_the_api_exists(chart_copy: Path) -> None:
    without = template(chart_copy)
    assert without.returncode == 0, without.stderr
    assert by_kind(without.documents, "ServiceMonitor") == []
    api = ["--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"]
    with_api = template(chart_copy, extra=api)
    assert with_api.returncode == 0, with_api.stderr
    monitors = by_kind(with_api.documents, "ServiceMonitor")
    services = {s["metadata"]["name"]: s for s in by_kind(with_api.documents, "Service")}
    assert sorted(m["metadata"]["name"] for m in monitors) == [
        "rel-dashboard",
        "rel-producers",
        "rel-streaming",
    ]
    for monitor in monitors:
        selector = monitor["spec"]["selector"]["matchLabels"]
        (service,) = [
            s
            for s in services.values()
            if all(s["metadata"]["labels"].get(k) == v for k, v in selector.items())
        ]
        port = monitor["spec"]["endpoints"][0]["port"]
        assert port in {p["name"] for p in service["spec"]["ports"]}, monitor["metadata"]["name"]
