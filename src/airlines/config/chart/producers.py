"""``producers``: one Deployment per regional flight simulator."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from airlines.config.chart.blocks import Resources, Scheduling, SubchartValues, resources
from airlines.config.chart.dashboard import MetricsEndpoint, producer_metrics
from airlines.config.types import Duration
from airlines.contract.event import Region


class ProducersValues(SubchartValues):
    """One Deployment per regional flight simulator."""

    regions: list[Region] = Field(
        default_factory=lambda: list(Region),
        description="Regions to run a producer for; each needs a topic in global.config.topics.",
    )
    resources: Resources = Field(
        default_factory=lambda: resources("100m", "128Mi", "500m"), description="Resources."
    )
    termination_grace_period_seconds: int = Field(
        45, ge=35, le=600, description="Time to flush on SIGTERM (the producer waits up to 30 s)."
    )
    topic_wait: Duration = Field(
        timedelta(minutes=30),
        description="How long a starting producer waits for its topic (created by the "
        "post-install hook once every pod is up) before it exits and is restarted.",
    )
    metrics: MetricsEndpoint = Field(
        default_factory=producer_metrics, description="Each producer's /metrics."
    )
    scheduling: Scheduling = Field(default_factory=Scheduling, description="Placement.")

    @field_validator("regions")
    @classmethod
    def _unique(cls, value: list[Region]) -> list[Region]:
        if len(set(value)) != len(value):
            raise ValueError("regions must be unique")
        return value
