"""Print the throughput of the Redis sink and of the job's transformations.

* sink: window rows per second into a Redis Cluster (:mod:`benchmarks.sink`);
* producer: events per second one process gets acknowledged (:mod:`benchmarks.producer`);
* job: Kafka-shaped records per second through parse -> validate -> window aggregate
  (local[2], 2 shuffle partitions, a no-op sink).

Uses the running local stack when ``airlines stack status`` says it is up, else starts
a throwaway one in a temporary directory. Figures are printed, never asserted.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airlines.config import AppConfig
from airlines.contract import Region
from airlines.jobs.redis_sink import ClusterWriter, SinkSettings
from airlines.producers.simulator import FleetSimulator
from airlines.redis_conn import redis_password
from benchmarks.producer import bench_producer
from benchmarks.report import as_json, table
from benchmarks.sink import bench_sink

JOB_RECORDS = 300_000


def bench_job() -> None:
    from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)

    from airlines.jobs import transform
    from airlines.jobs.streaming import JobOptions, build_session

    spark = build_session(
        JobOptions(
            master="local[2]",
            log_level="ERROR",
            extra_spark_conf={"spark.sql.shuffle.partitions": "2"},
        ),
        app_name="airlines-bench",
    )
    try:
        rng = random.Random(1)
        t0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
        sims = {r: FleetSimulator(r, seed=1) for r in Region}
        # A few thousand distinct events, repeated: generation in Python is not measured.
        distinct = [
            (f"{r.value}-flights", sims[r].event_at(t0 + timedelta(seconds=i)).to_json())
            for i in range(3000)
            for r in (rng.choice(list(Region)),)
        ]
        base = spark.createDataFrame(
            [(b"k", v, t, 0, i) for i, (t, v) in enumerate(distinct)],
            "key binary, value binary, topic string, partition int, offset long",
        )
        # Each copy gets an id of its own (orjson writes event_id first: characters
        # 14-49), so de-duplication has as many distinct events as records.
        fresh_id = F.overlay(F.col("value").cast("string"), F.expr("uuid()"), 14, 36)
        records = (
            base.crossJoin(spark.range(JOB_RECORDS // len(distinct)).withColumnRenamed("id", "n"))
            .drop("n")
            .withColumn("value", fresh_id.cast("binary"))
            .repartition(2)
            .cache()
        )
        count = records.count()
        routes = {f"{r.value}-flights": r.value for r in Region}
        events = transform.enrich(
            transform.valid_events(transform.validate_records(records)), routes
        )
        plans = {
            "without de-duplication": events,
            "as the job runs it": transform.distinct_on_time_events(
                events, watermark=timedelta(minutes=1)
            ),
        }
        seconds = {}
        for name, distinct_events in plans.items():
            plan = transform.sink_rows(
                transform.aggregate_windows(
                    distinct_events, window=timedelta(minutes=5), slide=None
                )
            )
            plan.write.format("noop").mode("overwrite").save()  # warm-up (code generation)
            started = time.perf_counter()
            plan.write.format("noop").mode("overwrite").save()
            seconds[name] = time.perf_counter() - started
        for name, elapsed in seconds.items():
            print(
                f"job ({name}): {count:,} records parsed, validated and aggregated in "
                f"{elapsed:.2f}s = {count / elapsed:,.0f} rows/s (local[2], 2 shuffle partitions)"
            )
        without, full = seconds.values()
        print(
            f"job: de-duplication on event_id costs {(full - without) / without:+.0%} time "
            f"({(full - without) / count * 1e6:.1f} µs per record; its batch form, without "
            "the state store)"
        )
    finally:
        spark.stop()


def running_stack_config() -> tuple[AppConfig, str | None] | None:
    """The local stack's config and password, if that stack is up."""
    from airlines.cli.common import stack_config_path
    from airlines.config import load_config

    path = stack_config_path()
    if not path.exists():
        return None
    try:
        config = load_config(path)
        password = redis_password(config.redis)
        probe = ClusterWriter(SinkSettings.from_config(config.redis, password))
        probe.refresh_slots()
        probe.close()
    except Exception:
        return None
    return config, password


def main() -> None:
    from airlines.stack.testing import managed_stack

    with ExitStack() as resources:
        found = running_stack_config()
        if found is None:
            root = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
            print("starting a throwaway local stack …", file=sys.stderr)
            stack = resources.enter_context(managed_stack(root))
            found = stack.config, stack.redis_password
        figures = [*bench_sink(*found), *bench_producer(*found)]
    print(as_json(figures) if "--json" in sys.argv[1:] else table(figures), flush=True)
    bench_job()


if __name__ == "__main__":
    main()
