"""``airlines produce`` and ``airlines replay``: put flight events on Kafka."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from airlines.cli.common import (
    ConfigOption,
    MetricsHostOption,
    MetricsPortOption,
    check_listen_address,
    console,
    fail,
    resolve_config,
    say_error,
)
from airlines.config.types import parse_duration
from airlines.contract.event import Region

if TYPE_CHECKING:
    # Annotations only: the publisher loads confluent_kafka, which the CLI's start need not.
    from airlines.produce.publisher import DeliveryStats


def _summary(title: str, stats: DeliveryStats, elapsed: float, extra: str = "") -> None:
    rate = stats.delivered / elapsed if elapsed > 0 else 0.0
    line = (
        f"{title}: {stats.delivered} delivered, {stats.failed} failed, "
        f"{stats.pending} unacknowledged in {elapsed:.1f}s ({rate:.0f}/s){extra}"
    )
    console.print(line, highlight=False)
    if stats.partitions:
        console.print(stats.acknowledged_line(), highlight=False)
    if stats.topic_gaps:
        console.print(
            f"the topic went missing from the brokers' metadata {stats.topic_gaps} time(s) "
            "(a broker restarting); sending waited for it",
            highlight=False,
        )
    for reason, n in stats.errors.most_common(5):
        say_error(f"  {n} x {reason}")


class _ProgressLine:
    """A live status line on a terminal; a log line every 10 s elsewhere (e.g. in a pod)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.start = time.monotonic()
        self._last_log = 0.0
        self._status = console.status("") if console.is_terminal else None
        if self._status:
            self._status.start()

    def __call__(self, stats: DeliveryStats) -> None:
        elapsed = time.monotonic() - self.start
        text = (
            f"{self.label}: {stats.queued} sent, {stats.delivered} delivered, "
            f"{stats.failed} failed ({stats.delivered / max(elapsed, 1e-9):.0f}/s)"
        )
        if self._status:
            self._status.update(text)
        elif elapsed - self._last_log >= 10:
            self._last_log = elapsed
            console.print(text, highlight=False)

    def stop(self) -> None:
        if self._status:
            self._status.stop()


def produce(
    region: Annotated[Region, typer.Option("--region", "-r", help="Which regional feed.")],
    rate: Annotated[
        float | None,
        typer.Option(
            help="Events per second (default: producers.rate from config). Event times are "
            "the wall clock whatever the rate: far above real time, each flight is observed "
            "more often (rate / fleet size per second), the clock does not run faster.",
            min=0.001,
        ),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option(help="Stop after this many events (default: run until stopped).", min=1),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Random seed: the same seed gives the same flights and events."),
    ] = None,
    heartbeat_file: Annotated[
        Path | None,
        typer.Option(help="Touch this file every second while producing (liveness probes)."),
    ] = None,
    wait_for_topic: Annotated[
        str,
        typer.Option(
            help="Wait this long for the topic to exist (and the brokers to answer) before "
            "giving up; 0s checks once.",
        ),
    ] = "0s",
    config: ConfigOption = None,
    metrics_port: MetricsPortOption = None,
    metrics_host: MetricsHostOption = "127.0.0.1",
    metrics_linger: Annotated[
        str,
        typer.Option(
            help="After the last delivery report, keep serving /metrics this long (or until "
            "SIGTERM/Ctrl-C), so a final scrape sees the final counts of a --count run.",
        ),
    ] = "0s",
) -> None:
    """Simulate a region's fleet and write its flight events to the region's topic.

    Idempotent, acks=all; key = flight id. SIGTERM/Ctrl-C flushes and prints a summary.
    Exits 1 if any event was not acknowledged.
    """
    from airlines.metrics import MetricsListenError, serve
    from airlines.produce.metrics import ProducerMetrics
    from airlines.produce.run import MissingTopicError, ProducingError
    from airlines.produce.run import produce as run
    from airlines.signals import stop_on_signals

    try:
        topic_wait = parse_duration(wait_for_topic).total_seconds()
    except ValueError as exc:
        fail(f"--wait-for-topic: {exc}")
    try:
        linger = parse_duration(metrics_linger).total_seconds()
    except ValueError as exc:
        fail(f"--metrics-linger: {exc}")
    metrics_host = check_listen_address("--metrics-host", metrics_host)
    cfg = resolve_config(config)
    topic = cfg.topic_for_region(region).name
    metrics = ProducerMetrics(region.value, topic)
    try:
        server = serve(metrics.registry(), metrics_host, metrics_port)
    except MetricsListenError as exc:
        fail(f"--metrics-port: {exc}")
    if server is not None:
        say_error(f"metrics on {server.url}")
    progress = _ProgressLine(f"{region.value} -> {topic}")
    try:
        with stop_on_signals() as stop:
            stats = run(
                cfg,
                region,
                rate=rate if rate is not None else cfg.producers.rate,
                count=count,
                seed=seed if seed is not None else cfg.producers.seed,
                stop=stop,
                on_progress=progress,
                heartbeat_file=heartbeat_file,
                topic_wait=topic_wait,
                metrics=metrics,
            )
    except MissingTopicError as exc:
        progress.stop()
        fail(str(exc))
    except ProducingError as exc:
        # The summary first: what was acknowledged before the error is in the topic.
        progress.stop()
        _summary(f"{region.value} -> {topic}", exc.stats, time.monotonic() - progress.start)
        fail(f"sending to {topic!r} stopped: {exc}")
    progress.stop()
    _summary(f"{region.value} -> {topic}", stats, time.monotonic() - progress.start)
    if server is not None:
        if linger > 0 and not stop.is_set():
            with stop_on_signals() as stop_lingering:
                stop_lingering.wait(linger)
        server.close()
    if stats.failed or stats.pending:
        raise typer.Exit(1)


def replay(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSONL or CSV file with the contract's field names (event_id optional).",
            exists=True,
            dir_okay=False,
        ),
    ],
    topic: Annotated[str, typer.Option("--topic", "-t", help="Topic to write to.")],
    rate: Annotated[
        float | None,
        typer.Option(help="Events per second (default: as fast as possible).", min=0.001),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: from the extension).")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Only validate the file; send nothing.")
    ] = False,
    allow_future: Annotated[
        bool,
        typer.Option(
            "--allow-future",
            help="Also send events dated more than streaming.maxFutureSkew after this "
            "machine's clock (the job dead-letters them).",
        ),
    ] = False,
    naive_timezone: Annotated[
        str,
        typer.Option(
            help="Time zone of times written without a UTC offset (an IANA name, e.g. "
            "America/New_York).",
        ),
    ] = "UTC",
    config: ConfigOption = None,
) -> None:
    """Send the file's events in file order, keeping their event times.

    Rows without an event_id get a deterministic one (the same row of the same file gets
    the same id on every replay); the original record's words ('On Time', 'east_coast',
    ...) are read as the contract's values. Invalid rows are reported as FILE:LINE: field:
    problem and not sent; exits 1 if there were any. So are events dated more than
    streaming.maxFutureSkew after this machine's clock (FILE:LINE: timestamp: ...), which
    the job would dead-letter, unless --allow-future. A line that is not UTF-8 or longer
    than 1 MiB ends the replay there (FILE:LINE: problem): the rows before it are sent and
    reported, and it exits 1.
    """
    from datetime import UTC, datetime, tzinfo
    from zoneinfo import ZoneInfo

    from airlines.config.types import format_duration
    from airlines.contract.event import DEFAULT_MAX_FUTURE_SKEW, future_time_problem
    from airlines.produce.publisher import EventPublisher, Pacer
    from airlines.produce.replay import (
        CsvHeaderError,
        FileFormat,
        ReplayInputError,
        detect_format,
        read_rows,
    )
    from airlines.produce.run import FLUSH_TIMEOUT_S
    from airlines.signals import stop_on_signals

    if fmt not in (None, "jsonl", "csv"):
        fail(f"--format: expected jsonl or csv, got {fmt!r}")
    naive_tz: tzinfo = UTC
    if naive_timezone.upper() != "UTC":
        try:
            naive_tz = ZoneInfo(naive_timezone)
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
            fail(f"--naive-timezone: unknown time zone {naive_timezone!r} (an IANA name)")
    try:
        file_format: FileFormat = fmt or detect_format(file)  # type: ignore[assignment]
    except ValueError as exc:
        fail(str(exc))
    publisher = None
    # --check needs no cluster, so no config either (the default bound then).
    app_config = resolve_config(config) if not check or config is not None else None
    skew = app_config.streaming.max_future_skew if app_config else DEFAULT_MAX_FUTURE_SKEW
    if app_config is not None and not check:
        kafka = app_config.kafka
        publisher = EventPublisher(kafka)
        if not publisher.topic_exists(topic):
            fail(f"--topic: topic {topic!r} does not exist on {','.join(kafka.bootstrap_servers)}")
    pacer, problems, valid, derived = Pacer(rate), 0, 0, 0
    stopped = False  # at a line it could not read
    start = time.monotonic()
    try:
        with stop_on_signals() as stop:
            for row in read_rows(file, file_format, naive_tz):
                if stop.is_set():
                    break
                if row.event is None:
                    problems += 1
                    say_error(f"{file}:{row.line}: {row.problem}")
                    continue
                ahead = None
                if not allow_future:
                    ahead = future_time_problem(
                        row.event.timestamp,
                        datetime.now(UTC),
                        skew,
                        format_duration(skew),
                        "this machine's clock",
                    )
                if ahead is not None:
                    problems += 1
                    say_error(f"{file}:{row.line}: {ahead}; not sent (--allow-future sends it)")
                    continue
                valid += 1
                derived += row.derived_id
                if row.repeats is not None:
                    say_error(
                        f"{file}:{row.line}: note: same content as line {row.repeats}; "
                        "replayed as a separate event with its own event_id"
                    )
                if publisher is not None:
                    publisher.send(topic, row.event)
                    pacer.wait(publisher.poll)
    except CsvHeaderError as exc:  # before any row: nothing was sent
        fail(str(exc))
    except ReplayInputError as exc:
        # What was read before it is sent and reported; nothing after it is read.
        stopped = True
        say_error(f"{exc}; stopped reading")
    ids = f" ({derived} with derived event_ids)" if derived else ""
    if publisher is None:
        console.print(f"{file}: {valid} valid rows{ids}, {problems} invalid", highlight=False)
    else:
        publisher.flush(FLUSH_TIMEOUT_S)
        stats = publisher.stats
        _summary(
            f"{file} -> {topic}",
            stats,
            time.monotonic() - start,
            f", {problems} invalid rows not sent{ids}",
        )
        if stats.failed or stats.pending:
            raise typer.Exit(1)
    if problems or stopped:
        raise typer.Exit(1)


contract_app = typer.Typer(help="The flight event contract.")


@contract_app.command("schema")
def contract_schema() -> None:
    """Print the JSON Schema of a flight event (one Kafka message value)."""
    import orjson

    from airlines.contract.event import json_schema

    typer.echo(orjson.dumps(json_schema(), option=orjson.OPT_INDENT_2).decode())


def register(app: typer.Typer) -> None:
    app.command("produce")(produce)
    app.command("replay")(replay)
    app.add_typer(contract_app, name="contract")
