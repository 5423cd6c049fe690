"""One timed run over a backlog, in a process of its own: the job, or bare Spark.

``python -m benchmarks.job_runner job|bare CONFIG [--master M]`` prints one JSON line:
records read, seconds from the first query's start to the last one's end (the JVM's
start-up is not counted, for either), CPU seconds of this process tree (driver, JVM,
Python workers) over the same span, and the peak RSS seen.

* ``job``: ``airlines stream --available-now``, exactly as users run it
  (:func:`airlines.stream.run.run_job`: its one query, validation with reasons, dead
  letters, de-duplication, exact counts, the Redis sink).
* ``bare``: what a Spark user would write for the same analytics: one query, the topics
  read once, ``from_json`` with the contract's schema, the same watermark and window
  aggregates, into Spark's ``noop`` sink. Same session settings, same shuffle partitions.
* ``bare-dedupe``: ``bare`` plus the job's de-duplication on ``event_id`` (its cost).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from benchmarks import procs


class Timer:
    """A query listener: when the first query started and the last one ended, and the
    CPU and peak memory of this process tree in between."""

    def __init__(self) -> None:
        from pyspark.sql.streaming.listener import StreamingQueryListener

        timer = self

        class Listener(StreamingQueryListener):
            def onQueryStarted(self, event: Any) -> None:  # noqa: N802 (Spark's API)
                timer.started(event)

            def onQueryProgress(self, event: Any) -> None:  # noqa: N802
                timer.progress(event.progress)

            def onQueryIdle(self, event: Any) -> None:  # noqa: N802
                pass

            def onQueryTerminated(self, event: Any) -> None:  # noqa: N802
                timer.terminated(event)

        self.listener = Listener()
        self.lock = threading.Lock()
        #: Set when the last query has ended (listener events arrive asynchronously).
        self.ended = threading.Event()
        self.active = 0
        self.start = self.end = 0.0
        self.cpu_start = self.cpu_end = 0.0
        self.peak_rss_mib = 0.0
        self.peak_driver_mib = self.peak_executor_mib = 0.0
        self.state_rows = 0
        self.input_rows: dict[str, int] = {}

    def started(self, event: Any) -> None:
        with self.lock:
            if self.active == 0 and not self.start:
                self.start = time.perf_counter()
                self.cpu_start = procs.tree_cpu_seconds()
            self.active += 1

    def progress(self, progress: Any) -> None:
        with self.lock:
            name = str(progress.name)
            self.input_rows[name] = self.input_rows.get(name, 0) + int(progress.numInputRows)
            memory = procs.tree_rss()
            self.peak_rss_mib = max(self.peak_rss_mib, memory.total_mib)
            self.peak_driver_mib = max(self.peak_driver_mib, memory.driver_mib)
            self.peak_executor_mib = max(self.peak_executor_mib, memory.executor_mib)
            for operator in progress.stateOperators:
                if operator.operatorName == "stateStoreSave":  # the window aggregation
                    self.state_rows = max(self.state_rows, int(operator.numRowsTotal))

    def terminated(self, event: Any) -> None:
        with self.lock:
            self.active -= 1
            if self.active == 0:
                self.end = time.perf_counter()
                self.cpu_end = procs.tree_cpu_seconds()
                self.ended.set()

    def result(self, query: str) -> dict[str, Any]:
        # The queries' end reaches the listener after the run returns: wait for it.
        if not self.ended.wait(timeout=60):
            raise RuntimeError("the queries' end was never reported to the timer")
        return {
            "records": self.input_rows.get(query, 0),
            "seconds": self.end - self.start,
            "cpu_seconds": self.cpu_end - self.cpu_start,
            "peak_rss_mib": self.peak_rss_mib,
            "peak_driver_mib": self.peak_driver_mib,
            "peak_executor_mib": self.peak_executor_mib,
            "window_groups_in_state": self.state_rows,
        }


BARE_QUERY = "bare-spark"


def run_bare(
    config: Any, options: Any, checkpoint: Path, timer: Timer, *, dedupe: bool = False
) -> None:
    from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)

    from airlines.config.types import spark_interval
    from airlines.contract.event import FlightStatus
    from airlines.stream.schema import event_schema
    from airlines.stream.session import build_session, kafka_stream, shuffle_partitions

    spark = build_session(options, app_name="airlines-bench-bare")
    spark.streams.addListener(timer.listener)
    spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions(spark, config)))
    streaming = config.streaming
    delayed = F.col("flight_status") == FlightStatus.DELAYED.value
    events = kafka_stream(spark, config).select(
        "topic", F.from_json(F.col("value").cast("string"), event_schema()).alias("e")
    )
    watermarked = events.select("topic", "e.*").withWatermark(
        "timestamp", spark_interval(streaming.watermark)
    )
    if dedupe:
        watermarked = watermarked.dropDuplicatesWithinWatermark(["event_id"])
    windows = watermarked.groupBy(
        F.window("timestamp", spark_interval(streaming.window)), "topic", "flight_id"
    ).agg(
        F.min("airline").alias("airline"),
        F.count(F.lit(1)).alias("event_count"),
        F.sum("passenger_count").alias("total_passengers"),
        F.avg("ticket_price").alias("avg_ticket_price"),
        F.avg("delay_minutes").alias("avg_delay_minutes"),
        F.sum(delayed.cast("long")).alias("delayed_count"),
    )
    query = (
        windows.writeStream.queryName(BARE_QUERY)
        .outputMode("update")
        .format("noop")
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    spark.stop()


def main(
    mode: Annotated[str, typer.Argument(help="job, bare or bare-dedupe")],
    config_path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    master: Annotated[str, typer.Option(help="Spark master.")] = "local[2]",
    driver_memory: Annotated[str, typer.Option()] = "1g",
    executor_memory: Annotated[str, typer.Option()] = "1g",
    conf: Annotated[
        list[str] | None, typer.Option(help="Extra Spark setting KEY=VALUE (repeatable).")
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Checkpoint root of this run (default: the config's), to be new."),
    ] = None,
) -> None:
    from airlines.cli.stream import spark_settings
    from airlines.config import load_config
    from airlines.store.connect import redis_password
    from airlines.store.writer import SinkSettings
    from airlines.stream.queries import ANALYTICS_QUERY
    from airlines.stream.run import run_job
    from airlines.stream.session import JobOptions, build_session

    config = load_config(config_path)
    if checkpoint is not None:
        streaming = config.streaming.model_copy(update={"checkpoint_location": str(checkpoint)})
        config = config.model_copy(update={"streaming": streaming})
    extra = {"spark.executor.memory": executor_memory, **spark_settings(conf or [])}
    options = JobOptions(
        master=master,
        available_now=True,
        driver_memory=driver_memory,
        log_level="ERROR",
        extra_spark_conf=extra,
    )
    timer = Timer()
    if mode == "job":
        # run_job's session is this one (getOrCreate), so the timer hears its query.
        build_session(options).streams.addListener(timer.listener)
        settings = SinkSettings.from_config(config.redis, redis_password(config.redis))
        run_job(config, settings, options)
        result = timer.result(ANALYTICS_QUERY)
    elif mode in ("bare", "bare-dedupe"):
        checkpoint = Path(config.streaming.checkpoint_location) / mode
        run_bare(config, options, checkpoint, timer, dedupe=mode == "bare-dedupe")
        result = timer.result(BARE_QUERY)
    else:
        raise typer.BadParameter(f"mode must be job, bare or bare-dedupe, not {mode!r}")
    sys.stdout.write(orjson.dumps({"mode": mode, **result}).decode() + "\n")


if __name__ == "__main__":
    typer.run(main)
