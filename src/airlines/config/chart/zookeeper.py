"""``zookeeper``: the ZooKeeper ensemble Kafka runs against."""

from __future__ import annotations

from pydantic import Field, field_validator

from airlines.config.chart.blocks import (
    Disruption,
    ImageValues,
    JvmMemory,
    JvmOptions,
    Persistence,
    Resources,
    Scheduling,
    SubchartValues,
    resources,
)


class ZookeeperValues(SubchartValues):
    """The ZooKeeper ensemble Kafka runs against."""

    replica_count: int = Field(3, ge=1, le=7, description="Ensemble size (odd).")
    image: ImageValues = Field(
        default_factory=lambda: ImageValues(repository="zookeeper", tag="3.9.4"),
        description="Official ZooKeeper image.",
    )
    heap: JvmMemory = Field("256m", description="JVM heap (-Xmx).")
    jvm_options: JvmOptions = Field(
        "",
        description="More JVM flags for the server, after the heap in SERVER_JVMFLAGS. "
        "`-XX:TieredStopAtLevel=1` (quick compiler only) suits small clusters, where the "
        "CPU a JVM spends compiling at start-up counts more than its peak speed.",
    )
    resources: Resources = Field(
        default_factory=lambda: resources("100m", "512Mi", "1"), description="Resources."
    )
    persistence: Persistence = Field(default_factory=Persistence, description="Data volume.")
    pdb: Disruption = Field(default_factory=Disruption, description="Disruption budget.")
    scheduling: Scheduling = Field(default_factory=Scheduling, description="Placement.")

    @field_validator("replica_count")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"must be odd (a quorum needs a majority), got {value}")
        return value
