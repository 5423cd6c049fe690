"""Freshness: from an event's production to its window being visible in Redis.

The real job (``airlines stream``) runs on fresh topics of the local stack while the
three producers (``airlines produce``) send a steady rate between them (5,000 events/s
by default). Afterwards, for every event:

* produced at: the Kafka record's timestamp (the producer's clock, CreateTime);
* visible at: when the micro-batch that read it was committed. Spark writes
  ``commits/<batch>`` only after the batch's sink returned, i.e. after every window row
  was written to Redis and confirmed by a replica (``WAIT``), so the commit file's time
  is when the event's window can be read.

The producers start only once the job has committed its first micro-batch (of the
empty topics), so the JVM's start-up and a backlog behind it are not measured: what
is measured is a running job fed a steady rate. Reported: p50, p95 and p99 of
``visible - produced``, and the job's CPU seconds (every process of it) per million
events over the measured span.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from airlines.config import AppConfig
from airlines.config.loader import dump_config, load_config
from airlines.config.types import spark_interval
from airlines.stream.session import checkpoint_dir
from airlines.waiting import poll
from airlines_testkit import stack as testing
from airlines_testkit.offset_log import CheckpointBatch, checkpoint_batches
from benchmarks import procs
from benchmarks.figures import Figure

DEFAULT_RATE = 5000.0
#: The measured span, after the warm-up.
DEFAULT_SECONDS = 600.0
#: The first seconds of steady load are not measured: the JVM compiles the hot code, the
#: state fills up to its steady size (a watermark's worth of event ids and windows).
DEFAULT_WARMUP = 75.0


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (sorted or not)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, math.ceil(fraction * len(ordered)))  # the smallest value with >= p below
    return ordered[min(rank, len(ordered)) - 1]


def _with_trigger(config: AppConfig, trigger: timedelta) -> AppConfig:
    return config.model_copy(
        update={"streaming": config.streaming.model_copy(update={"trigger": trigger})}
    )


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _commit_times(checkpoint: Path) -> dict[int, float]:
    commits = checkpoint / "commits"
    return (
        {int(p.name): p.stat().st_mtime for p in commits.iterdir() if p.name.isdigit()}
        if commits.is_dir()
        else {}
    )


class CheckpointLog:
    """A query's offset and commit logs as the job writes them, kept as they come: Spark
    deletes all but the last ``spark.sql.streaming.minBatchesToRetain`` (100) batches'
    files, fewer than a ten-minute run at a 5 s trigger writes."""

    def __init__(self, checkpoint: Path) -> None:
        self.checkpoint = checkpoint
        self.commits: dict[int, float] = {}
        self._batches: dict[int, CheckpointBatch] = {}

    def read(self) -> None:
        """Add what the logs hold now."""
        self.commits.update(_commit_times(self.checkpoint))
        for batch in checkpoint_batches(self.checkpoint):  # an offset file is written once
            self._batches.setdefault(batch.batch_id, batch)

    def follow(self, seconds: float, every: float = 2.0) -> None:
        """Read the logs every ``every`` seconds for ``seconds``."""

        def reading() -> str:  # never satisfied: read until the deadline
            self.read()
            return "reading"

        poll(reading, deadline=time.monotonic() + seconds, interval=every)

    def batches(self) -> list[CheckpointBatch]:
        """Every batch seen, in order (committed: its commit file was seen)."""
        return [
            batch if batch.batch_id not in self.commits else replace(batch, committed=True)
            for _, batch in sorted(self._batches.items())
        ]


def _record_times(config: AppConfig) -> dict[tuple[str, int], list[tuple[int, float]]]:
    """(topic, partition) -> [(offset, produced at, s)] for every record of the topics."""
    from confluent_kafka import Consumer, TopicPartition

    from airlines.kafka.admin import client_config, cluster_metadata

    consumer = Consumer(
        client_config(
            config.kafka,
            **{"group.id": f"bench-{os.getpid()}", "enable.auto.commit": False},
        )
    )
    metadata = cluster_metadata(config.kafka, timeout=30)
    found: dict[tuple[str, int], list[tuple[int, float]]] = {}
    try:
        for topic in config.topic_names:
            for partition in metadata.topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=30
                )
                if high <= low:
                    continue
                consumer.assign([TopicPartition(topic, partition, low)])
                got: list[tuple[int, float]] = []
                while not got or got[-1][0] < high - 1:
                    for message in consumer.consume(10_000, timeout=5):
                        offset = message.offset()
                        if message.error() is None and offset is not None:
                            got.append((offset, message.timestamp()[1] / 1000))
                found[(topic, partition)] = got
    finally:
        consumer.close()
    return found


BATCH_LINE = re.compile(r"batch (\d+): (\d+) records in .*?, (\d+) ms")


def batch_durations(job_log: str) -> list[tuple[int, float]]:
    """(records, seconds) of every analytics batch with input in the job's log."""
    return [(int(m[2]), int(m[3]) / 1000) for m in BATCH_LINE.finditer(job_log) if int(m[2]) > 0]


def _wait_first_commit(
    checkpoint: Path, job: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    """Until the job committed a micro-batch; fail if it exits or the deadline passes."""

    def uncommitted() -> str | None:
        if _commit_times(checkpoint):
            return None
        if job.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-20:]
            raise RuntimeError(f"the job exited ({job.returncode}):\n" + "\n".join(tail))
        return "no batch committed"

    if poll(uncommitted, deadline=time.monotonic() + timeout, interval=0.5):
        raise RuntimeError(f"the job committed no batch within {timeout:.0f}s")


def _wait_caught_up(checkpoint: Path, ends: dict[tuple[str, int], int], timeout: float) -> None:

    def behind() -> str | None:
        committed = [b for b in checkpoint_batches(checkpoint) if b.committed]
        if committed and all(committed[-1].end_offsets.get(k, 0) >= v for k, v in ends.items()):
            return None
        return "behind"

    if poll(behind, deadline=time.monotonic() + timeout, interval=1.0):
        raise RuntimeError(f"the job did not read everything within {timeout:.0f}s")


def freshness(
    batches: list[CheckpointBatch],
    commits: dict[int, float],
    records: dict[tuple[str, int], list[tuple[int, float]]],
    since: float | None = None,
) -> list[float]:
    """``visible - produced`` of every record produced after the first commit (and at or
    after ``since``, a time.time(), if given)."""
    committed = [b for b in batches if b.committed and b.batch_id in commits]
    if not committed:
        return []
    first_commit = commits[committed[0].batch_id]
    if since is not None:
        first_commit = max(first_commit, since)
    delays = []
    for key, rows in records.items():
        ends = [b.end_offsets.get(key, 0) for b in committed]
        for offset, produced in rows:
            index = bisect_right(ends, offset)  # first batch whose end offset passes it
            if index < len(committed) and produced >= first_commit:
                delays.append(commits[committed[index].batch_id] - produced)
    return delays


def _batches_note(batches: list[tuple[int, float]]) -> str:
    """What the tail is made of: how long the job's batches took, and how big they were."""
    if not batches:
        return "no batch logged"
    seconds = [d for _, d in batches]
    records = [n for n, _ in batches]
    return (
        f"{len(batches)} batches: median {percentile(seconds, 0.5):.1f} s "
        f"(max {max(seconds):.1f} s) for a median {percentile(records, 0.5):,.0f} records"
    )


def run(
    stack: testing.RunningStack,
    trigger: timedelta,
    rate: float = DEFAULT_RATE,
    seconds: float = DEFAULT_SECONDS,
    warmup: float = DEFAULT_WARMUP,
    extra: dict[str, str] | None = None,
) -> list[Figure]:
    """Freshness of ``seconds`` of steady load after ``warmup`` seconds of it; ``extra``
    adds Spark settings to the job (``airlines stream --conf``), named in the figures."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-fresh-") as tmp,
        contextlib.contextmanager(testing.fresh_config)(stack, Path(tmp)) as fresh,
    ):
        config = _with_trigger(fresh.config, trigger)
        path = Path(tmp) / "freshness.yaml"
        path.write_text(dump_config(config))
        config = load_config(path)
        env = {**os.environ, **fresh.env, "AIRLINES_CONFIG": str(path)}
        cli = str(Path(sys.executable).parent / "airlines")
        job_log = Path(tmp) / "job.log"
        conf = [f"--conf={key}={value}" for key, value in (extra or {}).items()]
        job = _start([cli, "stream", "--config", str(path), *conf], env, job_log)
        checkpoint = Path(checkpoint_dir(config, "analytics"))
        try:
            _wait_first_commit(checkpoint, job, job_log, timeout=300)
        except BaseException:
            _stop(job)
            raise
        producers = [
            _start(
                [
                    cli,
                    "produce",
                    "--region",
                    t.region,
                    "--rate",
                    f"{rate / len(config.topics):g}",
                    "--config",
                    str(path),
                ],
                env,
                Path(tmp) / f"produce-{t.region}.log",
            )
            for t in config.topics
        ]
        measured_from = time.time() + warmup
        log = CheckpointLog(checkpoint)
        try:
            log.follow(warmup)  # producers and job run steadily
            cpu_from = procs.tree_cpu_seconds(job.pid)
            log.follow(seconds)
            cpu_seconds = procs.tree_cpu_seconds(job.pid) - cpu_from
        finally:
            for producer in producers:
                _stop(producer)
        try:
            records = _record_times(config)
            ends = {key: rows[-1][0] + 1 for key, rows in records.items() if rows}
            _wait_caught_up(checkpoint, ends, timeout=300)
            log.read()
        finally:
            _stop(job)
        delays = freshness(log.batches(), log.commits, records, measured_from)
        batches = batch_durations(job_log.read_text(errors="replace"))
    if not delays:
        raise RuntimeError("no event was produced after the job's first commit")
    label = f"trigger {spark_interval(trigger)}"
    for key, value in (extra or {}).items():  # e.g. "providerClass=RocksDBStateStoreProvider"
        name = ".".join(key.split(".")[-2:]) if key.endswith(".enabled") else key.split(".")[-1]
        label += f", {name}={value.rsplit('.', 1)[-1]}"
    target = trigger.total_seconds() + 5
    return [
        Figure(
            "freshness",
            f"p{int(q * 100)} production -> visible in Redis ({label}, {rate:,.0f} events/s)",
            percentile(delays, q),
            "s",
            better="lower",
            target=target if q == 0.99 else None,
            note=f"{len(delays):,} events over {seconds:.0f} s after {warmup:.0f} s of warm-up"
            if q == 0.5
            else _batches_note(batches)
            if q == 0.99
            else "",
        )
        for q in (0.5, 0.95, 0.99)
    ] + [
        Figure(
            "cpu",
            f"CPU seconds per million records, steady ({label}, {rate:,.0f} events/s)",
            cpu_seconds * 1e6 / len(delays),  # the events produced in the measured span
            "CPU s / 1M records",
            better="lower",
            target=45,
            note="the job's processes (driver, JVM, Python workers) over the measured span",
        )
    ]
