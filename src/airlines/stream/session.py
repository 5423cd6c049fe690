"""The job's Spark session, its Kafka source and where its checkpoints live.

The session's settings are tuned for a streaming job of many small micro-batches (see
:func:`build_session`); the source reads every configured topic once.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from airlines import paths
from airlines.config import AppConfig
from airlines.contract.event import MAX_RECORD_BYTES
from airlines.kafka.principals import STREAMING_GROUP_PREFIX
from airlines.kafka.settings import java_settings
from airlines.stream import jvm

#: Spark SQL setting the job turns off (see :func:`build_session`).
CONSTRAINT_PROPAGATION = "spark.sql.constraintPropagation.enabled"
#: Spark setting: the module of the executors' Python daemon (:mod:`airlines.stream.spark_daemon`).
PYTHON_DAEMON = "spark.python.daemon.module"
#: Largest generated method Spark keeps in whole-stage code (HotSpot JITs up to 8000 bytes).
HUGE_METHOD_LIMIT = "spark.sql.codegen.hugeMethodLimit"
#: Spark settings of the JVM flags put before any ``extraJavaOptions`` (driver, executors).
DEFAULT_JAVA_OPTIONS = ("spark.driver.defaultJavaOptions", "spark.executor.defaultJavaOptions")
#: Spark setting: compress shuffle files (off in local mode, see :func:`build_session`).
SHUFFLE_COMPRESS = "spark.shuffle.compress"
#: The local JVM's flags (see :func:`build_session`).
LOCAL_JVM_OPTIONS = " ".join(
    (
        "-XX:+UseSerialGC",
        "-XX:Tier4InvocationThreshold=50000",
        "-XX:Tier4MinInvocationThreshold=6000",
        "-XX:Tier4CompileThreshold=150000",
        "-XX:Tier4BackEdgeThreshold=400000",
    )
)


class JobError(RuntimeError):
    """The job cannot start or stopped because of a failure (message says which)."""


@dataclass(frozen=True)
class JobOptions:
    """How to run the job (the config says what to compute)."""

    master: str | None = None
    available_now: bool = False
    driver_memory: str = "1g"
    log_level: str = "WARN"
    extra_spark_conf: dict[str, str] = field(default_factory=dict)
    #: Serve Prometheus metrics on this port (None: not at all) and address.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"


def default_master() -> str | None:
    """``local[2]`` unless spark-submit (which sets the master itself) launched us."""
    return None if "PYSPARK_GATEWAY_PORT" in os.environ else "local[2]"


def build_session(options: JobOptions, app_name: str = "airlines-flight-analytics") -> SparkSession:
    # Python workers must run this interpreter (it has the airlines package).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    master = options.master if options.master is not None else default_master()
    if master is not None:
        builder = builder.master(master)
    conf = {
        "spark.driver.memory": options.driver_memory,
        "spark.sql.session.timeZone": "UTC",
        # Python workers fork from a daemon that has already imported what they run.
        PYTHON_DAEMON: "airlines.stream.spark_daemon",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.streaming.stopGracefullyOnShutdown": "true",
        # Every micro-batch is optimized afresh, and inferring constraints over the
        # validation's large expressions cost the driver 10-14 s per analytics batch
        # (queryPlanning in the progress; 0.3 s without). The plan gains nothing from
        # the inferred filters: validation already decides every null.
        CONSTRAINT_PROPAGATION: "false",
        # The validation's generated code has methods past HotSpot's 8000-byte limit,
        # which the JIT never compiles: whole-stage code for it ran interpreted (46 µs
        # a record; 14 with Spark's per-operator code, which the JIT compiles).
        HUGE_METHOD_LIMIT: "8000",
    }
    if master is not None and master.startswith("local"):
        conf["spark.ui.enabled"] = "false"
        # One JVM is driver and executors here, on a few cores, with a small heap:
        # - the serial collector, which costs the least CPU for a heap of a few GiB;
        # - the optimising compiler (C2) kept for code run 10x more often than its
        #   default thresholds, so that its compile threads do not take the cores the
        #   tasks need. Over a 1.2M-record backlog both cut the job's CPU by a quarter.
        # A cluster's JVMs take theirs from the chart's sparkConf.
        for key in DEFAULT_JAVA_OPTIONS:
            conf[key] = LOCAL_JVM_OPTIONS
        # Shuffle files stay on this machine's disk (its page cache), never cross a
        # network: compressing them only costs CPU. The de-duplication shuffles every
        # event, so over a 1.2M-record backlog this made the job 6% faster.
        conf[SHUFFLE_COMPRESS] = "false"
    jars = paths.jars("spark-kafka") + paths.jars(jvm.JAR_BUNDLE)
    if jars:
        conf["spark.jars"] = ",".join(str(j) for j in jars)
    conf.update(options.extra_spark_conf)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(options.log_level)
    jvm.register_reader(spark)
    return spark


def shuffle_partitions(spark: SparkSession, config: AppConfig) -> int:
    """``streaming.shufflePartitions``, else the cores Spark has (not Spark's 200: a tiny
    batch would run 200 tasks)."""
    configured = config.streaming.shuffle_partitions
    return configured if configured is not None else max(1, spark.sparkContext.defaultParallelism)


def kafka_stream(spark: SparkSession, config: AppConfig) -> DataFrame:
    """All configured topics, as one Kafka source."""
    reader = (
        spark.readStream.format("kafka")
        # Servers and security (the SASL login is read from its file here, on the driver).
        .options(**{f"kafka.{key}": value for key, value in java_settings(config.kafka).items()})
        .option("subscribe", ",".join(t.name for t in config.topics))
        # The consumer groups the streaming principal may use (kafka_principals).
        .option("groupIdPrefix", STREAMING_GROUP_PREFIX)
        .option("startingOffsets", config.streaming.starting_offsets)
        # Data deleted by retention before it was read is a loss: fail loudly.
        .option("failOnDataLoss", "true")
        # Smoke markers are recognised by a header as well as their key.
        .option("includeHeaders", "true")
        # At most 1 MiB of records per partition and fetch, as sent (compressed; Kafka's
        # default, stated). A larger batch still arrives whole (Kafka never splits one),
        # and a record past the contract's size bound is dead-lettered unread.
        .option("kafka.max.partition.fetch.bytes", str(MAX_RECORD_BYTES))
    )
    if config.streaming.max_offsets_per_trigger is not None:
        reader = reader.option("maxOffsetsPerTrigger", config.streaming.max_offsets_per_trigger)
    return reader.load()


def checkpoint_dir(config: AppConfig, query: str) -> str:
    location = config.streaming.checkpoint_location
    if "://" not in location:
        location = str(Path(location).resolve())
    return f"{location.rstrip('/')}/{query}"
