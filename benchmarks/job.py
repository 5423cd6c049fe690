"""The job over a backlog, beside bare Spark over the same backlog, in the same run.

A backlog of flight events (300,000 and 1,200,000 by default, a third per region) is
produced into fresh topics of the local stack; then bare Spark (one query, ``from_json``, the same
window aggregates, a no-op sink) and the job (``airlines stream --available-now``, with
everything on) each read all of it from the start, in a process of their own
(:mod:`benchmarks.job_runner`); so does bare Spark with the job's de-duplication. Each
runs twice, interleaved, and the faster run counts.
Reported: records/s of each and their ratios, and the CPU seconds per million records
of every process of the job (driver, JVM, Python workers).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from airlines.config import AppConfig
from airlines.contract.event import Region
from airlines_testkit import stack as testing
from benchmarks.figures import Figure

#: Backlogs of the job figures: fixed costs (planning, Python workers' start, the JIT)
#: weigh more in the small one, per-record work in the big one.
DEFAULT_SIZES = (300_000, 1_200_000)
#: Event times of the backlog: one hour of a region's traffic, spread evenly.
BACKLOG_SPAN = timedelta(hours=1)


def produce_backlog(
    config: AppConfig,
    records: int,
    fleet_size: int | None = None,
    span: timedelta = BACKLOG_SPAN,
    end: datetime | None = None,
) -> int:
    """``records`` events, a third per region's topic, in event-time order over ``span``
    up to ``end`` (default: ten minutes ago); returns how many were acknowledged."""
    from airlines.produce.publisher import EventPublisher
    from airlines.produce.simulator import FleetSimulator

    fleet = fleet_size if fleet_size is not None else config.producers.fleet_size
    publisher = EventPublisher(config.kafka)
    per_topic = records // len(config.topics)
    last = end if end is not None else datetime.now(UTC) - timedelta(minutes=10)
    start = last.replace(microsecond=0) - span
    step = span / per_topic
    for topic in config.topics:
        simulator = FleetSimulator(Region(topic.region), fleet_size=fleet, seed=7)
        for i in range(per_topic):
            publisher.send(topic.name, simulator.event_at(start + i * step))
    if publisher.flush(120):
        raise RuntimeError("backlog: not every event was acknowledged within 120 s")
    if publisher.stats.failed:
        raise RuntimeError(f"backlog: {publisher.stats.failed} events failed")
    return publisher.stats.delivered


def run_mode(mode: str, config_path: Path, env: dict[str, str], *options: str) -> dict[str, Any]:
    """One :mod:`benchmarks.job_runner` run in a process of its own; its JSON result."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.job_runner", mode, str(config_path), *options],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{mode} run failed ({done.returncode}): {done.stderr[-3000:]}")
    result: dict[str, Any] = orjson.loads(lines[-1])
    return result


#: The three runs over each backlog, each done ROUNDS times (the fastest counts: every
#: mode shares the two cores with the brokers, and a background flush slows one run).
MODES = ("bare", "bare-dedupe", "job")
ROUNDS = 2


def best(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of a mode's runs (its CPU is that run's own)."""
    return min(results, key=lambda r: float(r["seconds"]))


def run(stack: testing.RunningStack, records: int) -> list[Figure]:
    """Produce the backlog into fresh topics, time bare Spark and the job over it."""
    import os

    with (
        tempfile.TemporaryDirectory(prefix="bench-job-") as tmp,
        contextlib.contextmanager(testing.fresh_config)(stack, Path(tmp)) as fresh,
    ):
        sent = produce_backlog(fresh.config, records)
        env = {**os.environ, **fresh.env}
        runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
        for round_ in range(ROUNDS):  # interleaved: a noisy minute does not hit one mode only
            for mode in MODES:
                checkpoint = Path(tmp) / f"checkpoint-{mode}-{round_}"  # each run reads all
                runs[mode].append(run_mode(mode, fresh.path, env, f"--checkpoint={checkpoint}"))
    for result in (r for results in runs.values() for r in results):
        if result["records"] != sent:
            raise RuntimeError(f"{result['mode']} read {result['records']} of {sent} records")
    bare, dedupe, job = (best(runs[mode]) for mode in MODES)
    job_rate = sent / job["seconds"]
    bare_rate = sent / bare["seconds"]
    dedupe_rate = sent / dedupe["seconds"]
    per_million = 1e6 / sent
    backlog = f"{sent / 1000:,.0f}k backlog"
    return [
        Figure(
            "job",
            f"records/s, {backlog} (airlines stream --available-now)",
            job_rate,
            "records/s",
            baseline_name="bare Spark: from_json + the same windows, no-op sink",
            baseline_value=bare_rate,
            target_ratio=0.8,
            note="local[2]; everything on: validation with reasons, dead letters, "
            "de-duplication, exact counts, Redis sink",
        ),
        Figure(
            "job",
            f"records/s, {backlog}, beside bare Spark with the same de-duplication",
            job_rate,
            "records/s",
            baseline_name="bare Spark + dropDuplicatesWithinWatermark(event_id)",
            baseline_value=dedupe_rate,
        ),
        Figure(
            "job",
            f"records/s of bare Spark with de-duplication on event_id, {backlog}",
            dedupe_rate,
            "records/s",
            baseline_name="bare Spark without it",
            baseline_value=bare_rate,
        ),
        Figure(
            "cpu",
            f"CPU seconds per million records (driver, JVM, Python workers), {backlog}",
            job["cpu_seconds"] * per_million,
            "CPU s / 1M records",
            better="lower",
            baseline_name="bare Spark",
            baseline_value=bare["cpu_seconds"] * per_million,
            target=45,
        ),
    ]
