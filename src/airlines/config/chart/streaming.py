"""``streaming``: the SparkApplication running ``airlines stream``, its checkpoint volume
and the hook Job that applies it."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from airlines.config.chart.blocks import (
    ChartSection,
    JvmMemory,
    Quantity,
    Resources,
    Scheduling,
    SubchartValues,
    check_deadline_covers_timeout,
    resources,
)
from airlines.config.chart.dashboard import MetricsEndpoint, job_metrics
from airlines.config.types import Duration

#: Smallest driver heap that survives the job's per-batch code generation (measured: 512m
#: ran out of heap on the e2e cluster within three batches; 1g ran).
DRIVER_MIN_MEMORY_MIB = 1024


def jvm_memory_mib(value: str) -> int:
    """A JVM memory setting (``512m``, ``1g``) in MiB."""
    number, unit = int(value[:-1]), value[-1].lower()
    return number * 1024 if unit == "g" else number


class SparkDriver(ChartSection):
    """Spark driver pod."""

    cores: int = Field(1, ge=1, le=64, description="spark.driver.cores.")
    core_request: Quantity | None = Field(
        None,
        description="CPU request of the driver pod (spark.kubernetes.driver.request.cores); "
        "null for spark.driver.cores. Small clusters set less than a core.",
    )
    core_limit: Quantity = Field("1", description="CPU limit of the driver pod.")
    memory: JvmMemory = Field(
        "1g",
        description="spark.driver.memory, at least 1g: the driver generates each query's "
        "code for every micro-batch (about 0.9 MB of Java for the validation), and a 512m "
        "heap ran out on a real cluster.",
    )
    memory_overhead: JvmMemory = Field(
        "640m",
        description="Memory of the driver pod beyond the JVM heap "
        "(spark.driver.memoryOverhead): the JVM's own (metaspace, threads, buffers) and "
        "the Python process. Spark's default, "
        "40% of the heap but at least 384m, got small pods OOM-killed.",
    )

    @field_validator("memory")
    @classmethod
    def _enough_for_codegen(cls, value: str) -> str:
        if jvm_memory_mib(value) < DRIVER_MIN_MEMORY_MIB:
            raise ValueError(
                f"{value} is below 1g: the driver generates the job's code for every "
                "micro-batch and runs out of heap"
            )
        return value


class SparkExecutor(ChartSection):
    """Spark executor pods."""

    instances: int = Field(2, ge=1, le=100, description="Executors.")
    cores: int = Field(1, ge=1, le=64, description="spark.executor.cores.")
    core_request: Quantity | None = Field(
        None,
        description="CPU request of each executor pod "
        "(spark.kubernetes.executor.request.cores); null for spark.executor.cores.",
    )
    core_limit: Quantity = Field("1", description="CPU limit of each executor pod.")
    memory: JvmMemory = Field("1g", description="spark.executor.memory.")
    memory_overhead: JvmMemory = Field(
        "640m",
        description="Memory of each executor pod beyond the JVM heap "
        "(spark.executor.memoryOverhead): the JVM's own (metaspace, threads, buffers) and "
        "the Python process. Spark's default, "
        "40% of the heap but at least 384m, got small pods OOM-killed.",
    )


class Checkpoint(ChartSection):
    """The PersistentVolumeClaim holding the query checkpoint (state and offsets)."""

    enabled: bool = Field(True, description="Create and mount the checkpoint claim.")
    size: Quantity = Field("2Gi", description="Requested storage.")
    storage_class: str | None = Field(None, description="StorageClass; null for the default.")
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany"] = Field(
        "ReadWriteOnce",
        description="Driver and executors all mount it: ReadWriteMany on multi-node clusters.",
    )
    mount_path: str = Field(
        "/var/lib/airlines/checkpoints",
        pattern=r"^/[A-Za-z0-9._/-]*$",
        description="Where driver and executors mount it.",
    )


class SparkRestartPolicy(ChartSection):
    """The SparkApplication's restart policy (a streaming job restarts on failure)."""

    type: Literal["Always", "OnFailure", "Never"] = Field("Always", description="Policy type.")
    on_failure_retries: int = Field(10, ge=0, description="Retries after a failure.")
    on_failure_retry_interval: int = Field(30, ge=1, description="Seconds between retries.")
    on_submission_failure_retries: int = Field(5, ge=0, description="Submission retries.")
    on_submission_failure_retry_interval: int = Field(
        20, ge=1, description="Seconds between submission retries."
    )


class SparkApplyJob(ChartSection):
    """The hook Job that applies the SparkApplication (`airlines k8s apply-spark-app`).

    The SparkApplication is not a release object: the Spark Operator's admission webhook
    (failurePolicy Fail) must answer for it, and it cannot before its pod runs. This Job
    runs after install, upgrade and rollback, once the other hooks are done.
    """

    timeout: Duration = Field(
        timedelta(minutes=5),
        description="Keep retrying while the API server or the Spark Operator's webhook "
        "does not answer yet, up to this long; then the job fails with the last error.",
    )
    backoff_limit: int = Field(
        0,
        ge=0,
        le=10,
        description="New pods after a failed one (the command retries the API itself; a "
        "failed pod stays for `kubectl logs`).",
    )
    active_deadline_seconds: int = Field(
        600, ge=30, description="Give up after this long (seconds); longer than timeout."
    )
    resources: Resources = Field(
        default_factory=lambda: resources("50m", "128Mi", "500m"), description="Resources."
    )

    @model_validator(mode="after")
    def _deadline_covers_timeout(self) -> SparkApplyJob:
        check_deadline_covers_timeout(self.active_deadline_seconds, self.timeout)
        return self


class StreamingValues(SubchartValues):
    """The SparkApplication running `airlines stream`."""

    spark_version: str = Field(
        "4.2.0", pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$", description="Spark version of the image."
    )
    driver: SparkDriver = Field(default_factory=SparkDriver, description="Driver pod.")
    executor: SparkExecutor = Field(default_factory=SparkExecutor, description="Executor pods.")
    checkpoint: Checkpoint = Field(default_factory=Checkpoint, description="Checkpoint volume.")
    restart_policy: SparkRestartPolicy = Field(
        default_factory=SparkRestartPolicy, description="Restart policy."
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict, description="Extra Spark properties (sparkConf)."
    )
    metrics: MetricsEndpoint = Field(
        default_factory=job_metrics, description="The job's /metrics (on the driver)."
    )
    scheduling: Scheduling = Field(default_factory=Scheduling, description="Placement.")
    apply_job: SparkApplyJob = Field(
        default_factory=SparkApplyJob,
        description="Hook Job applying the SparkApplication once the Spark Operator's "
        "webhook answers (post-install, post-upgrade, post-rollback).",
    )
