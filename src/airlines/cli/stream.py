"""``airlines stream``: the Structured Streaming job (also the SparkApplication's command)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from airlines.cli.common import (
    ConfigOption,
    MetricsHostOption,
    MetricsPortOption,
    check_listen_address,
    fail,
    resolve_config,
)


def stream(
    config: ConfigOption = None,
    available_now: Annotated[
        bool,
        typer.Option(
            "--available-now",
            help="Process everything available in the topics, then exit (a one-off catch-up).",
        ),
    ] = False,
    master: Annotated[
        str | None,
        typer.Option(
            help="Spark master, e.g. local[2]. Default: local[2], or whatever spark-submit set."
        ),
    ] = None,
    driver_memory: Annotated[
        str, typer.Option(help="Driver memory when Spark runs locally.")
    ] = "1g",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Spark INFO logs too.")] = False,
    conf: Annotated[
        list[str] | None,
        typer.Option(
            "--conf",
            help="A Spark setting KEY=VALUE, as spark-submit's --conf (repeatable), e.g. "
            "spark.sql.streaming.stateStore.providerClass=... for a new checkpoint.",
        ),
    ] = None,
    metrics_port: MetricsPortOption = None,
    metrics_host: MetricsHostOption = "127.0.0.1",
) -> None:
    """Aggregate flight events from Kafka into Redis: windows per route, airline and flight.

    Reads the configured topics, validates every record against the event contract
    (rejects go to the dead-letter topic with a reason), aggregates per event-time
    window and writes the analytics to the Redis Cluster. Resumes from its checkpoint.
    """
    metrics_host = check_listen_address("--metrics-host", metrics_host)
    spark_conf = spark_settings(conf or [])
    app_config = resolve_config(config)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # py4j logs every callback at INFO; the job's own lines are what matter.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    from airlines.metrics import MetricsListenError
    from airlines.store.connect import RedisPasswordError, redis_password
    from airlines.store.writer import SinkSettings
    from airlines.stream.run import run_job
    from airlines.stream.session import JobError, JobOptions

    try:
        password = redis_password(app_config.redis)
    except RedisPasswordError as exc:
        fail(str(exc))
    options = JobOptions(
        master=master,
        available_now=available_now,
        driver_memory=driver_memory,
        log_level="INFO" if verbose else "WARN",
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        extra_spark_conf=spark_conf,
    )
    try:
        reports = run_job(app_config, SinkSettings.from_config(app_config.redis, password), options)
    except JobError as exc:
        fail(str(exc), code=1)
    except MetricsListenError as exc:
        fail(f"--metrics-port: {exc}", 1)
    if available_now:
        total = sum(r.input_rows for r in reports)
        logging.getLogger("airlines.stream").info(
            "caught up: %d batches, %d records", len(reports), total
        )


def spark_settings(pairs: list[str]) -> dict[str, str]:
    """``--conf`` values as a dict; a value that is not KEY=VALUE fails with its text."""
    settings: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            fail(f"--conf {pair!r}: expected KEY=VALUE, e.g. spark.sql.shuffle.partitions=4")
        settings[key.strip()] = value.strip()
    return settings


def register(app: typer.Typer) -> None:
    app.command("stream")(stream)
