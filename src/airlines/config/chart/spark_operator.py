"""``spark-operator``: kubeflow's spark-operator chart, its own keys passed through and the
ones the bundle sets checked."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from airlines.config.chart.blocks import ChartSection, Resources, resources


class OperatorController(ChartSection):
    """The operator's controller: it runs spark-submit (a JVM) for each submission. The
    operator chart's other controller keys pass through unchecked."""

    model_config = ConfigDict(extra="allow")

    resources: Resources = Field(
        default_factory=lambda: resources("100m", "512Mi", "1"),
        description="Requests and limits of its container (spark-submit runs in it).",
    )


class OperatorWebhook(ChartSection):
    """The operator's admission webhook: it mutates the SparkApplication and the Spark pods.
    The operator chart's other webhook keys pass through unchecked."""

    model_config = ConfigDict(extra="allow")

    enable: bool = Field(True, description="Run the webhook (its failurePolicy is Fail).")
    resources: Resources = Field(
        default_factory=lambda: resources("50m", "128Mi", "500m"),
        description="Requests and limits of its container.",
    )


def _operator_spark_defaults() -> dict[str, Any]:
    return {
        "jobNamespaces": ["airlines"],
        "serviceAccount": {"create": False},
        "rbac": {"create": False},
    }


class SparkOperatorValues(ChartSection):
    """kubeflow's spark-operator chart: its own keys (not checked here) and the ones the
    bundle sets (checked)."""

    model_config = ConfigDict(extra="allow")

    enabled: bool = Field(
        True, description="Deploy the Spark Operator (the dependency's condition)."
    )
    spark: dict[str, Any] = Field(
        default_factory=_operator_spark_defaults,
        description="Spark jobs: jobNamespaces must include the release namespace; the "
        "bundle's rbac subchart brings the job's service account and Role.",
    )
    controller: OperatorController = Field(
        default_factory=OperatorController, description="The operator's controller."
    )
    webhook: OperatorWebhook = Field(
        default_factory=OperatorWebhook, description="The operator's admission webhook."
    )
