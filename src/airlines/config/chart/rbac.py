"""``rbac``: the service accounts and Roles of every component."""

from __future__ import annotations

from pydantic import Field

from airlines.config.chart.blocks import SubchartValues


class RbacValues(SubchartValues):
    """Service accounts and the Spark driver's Role."""

    service_account_annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Annotations of every service account (e.g. cloud IAM bindings).",
    )
