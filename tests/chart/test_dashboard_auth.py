"""The dashboard's token, as the chart renders it: in its Secret and nowhere else.

The token is generated at render time, so each render has its own: it must appear only
(base64) in the dashboard's Secret, never in a ConfigMap, an argument or a plain
variable, and the pod reads it as a file from that Secret. Every values file renders a
dashboard that asks for it.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.chart.helm import RELEASE, Result, template
from tests.chart.manifests import by_kind, containers, pod_specs

pytestmark = pytest.mark.chart

SECRET = f"{RELEASE}-dashboard-auth"


def _dashboard_token(docs: list[dict[str, Any]]) -> str:
    (secret,) = [s for s in by_kind(docs, "Secret") if s["metadata"]["name"] == SECRET]
    return base64.b64decode(secret["data"]["token"]).decode()


def _dashboard_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    for pod in pod_specs(docs):
        for container in containers(pod):
            if container["name"] == "dashboard":
                return container
    raise AssertionError("no dashboard container rendered")


def test_the_token_is_only_in_its_secret(render_env: dict[str, Result]) -> None:
    render = render_env["default"]
    assert render.returncode == 0, render.stderr
    docs = render.documents
    token = _dashboard_token(docs)
    assert len(token) >= 32
    encoded = base64.b64encode(token.encode()).decode()
    for doc in docs:
        if doc["kind"] == "Secret" and doc["metadata"]["name"] == SECRET:
            continue
        text = yaml.safe_dump(doc)
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert token not in text, f"the dashboard's token is in {where}"
        assert encoded not in text, f"the dashboard's token (base64) is in {where}"


def test_the_pod_reads_the_token_as_a_file(render_env: dict[str, Result]) -> None:
    docs = render_env["default"].documents
    container = _dashboard_container(docs)
    args = container["args"]
    assert args[args.index("--auth") + 1] == "token"
    assert args[args.index("--token-file") + 1] == "/etc/airlines-dashboard-auth/token"
    for env in container.get("env", []):
        ref = env.get("valueFrom", {}).get("secretKeyRef", {})
        assert ref.get("name") != SECRET, f"the token is in the variable {env['name']}"
    assert {"name": "auth", "mountPath": "/etc/airlines-dashboard-auth", "readOnly": True} in (
        container["volumeMounts"]
    )


@pytest.mark.parametrize("values", ["dev.yaml", "minikube.yaml", "production.yaml"])
def test_every_values_file_asks_for_the_token(render_env: dict[str, Result], values: str) -> None:
    render = render_env[values]
    assert render.returncode == 0, render.stderr
    docs = render.documents
    if not any(c["name"] == "dashboard" for p in pod_specs(docs) for c in containers(p)):
        pytest.skip(f"{values} deploys no dashboard")
    args = _dashboard_container(docs)["args"]
    assert args[args.index("--auth") + 1] == "token", values


def test_an_existing_secret_replaces_the_generated_one(chart_copy: Path) -> None:
    render = template(
        chart_copy,
        sets=["dashboard.auth.existingSecret=my-token", "dashboard.auth.existingSecretKey=t"],
    )
    assert render.returncode == 0, render.stderr
    docs = render.documents
    assert SECRET not in {s["metadata"]["name"] for s in by_kind(docs, "Secret")}
    volumes = [v for p in pod_specs(docs) for v in p.spec.get("volumes", [])]
    assert {
        "name": "auth",
        "secret": {
            "secretName": "my-token",
            "defaultMode": 0o440,
            "items": [{"key": "t", "path": "token"}],
        },
    } in volumes
