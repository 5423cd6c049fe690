"""The Redis sink: window rows per second into the stack's Redis Cluster.

Both writers get the same 100,000 rows in the job's row form, with the local stack's
settings (its ``redis.ackReplicas``: WAIT per node), each under a key prefix of its own
that is deleted afterwards, over the same Redis Cluster in plaintext (the old sink has
no TLS; a stack started with ``--insecure-redis``):

* **new**: :meth:`ClusterWriter.write_windows`, as the job calls it (the whole
  partition; chunks of 2,000, confirmed per 20,000);
* **baseline**: the sink of :data:`~benchmarks.old_sink.OLD_SINK_COMMIT`, the last
  before its rewrite, built from git and run in a process of its own
  (:mod:`benchmarks.old_sink`; the same guarantees): its job's partition writer,
  ``WindowAggregate`` objects, ``write_commands`` of 2,000 rows at a time, redis-py
  packing and reply parsing.

The rows are the worst case for the per-group index merging: 3 routes x 10,000 flights
(the largest fleet), ordered by window, so every row of a write group is another flight
and each row costs five commands (HSET of 16 fields, EXPIRE, and its flight index's
ZADD, ZREMRANGEBYRANK, EXPIRE) plus its share of the delay rankings - as many as the
old sink sent. Each writer writes them twice: new windows (keys created), then the same
rows again (windows updated, as later batches and replays do).

Where the time goes is printed too: the writer's CPU per row (its process) and Redis'
(``INFO cpu`` of every node of the config, primaries and replicas), and from them the
most this machine's cores could write were they all busy with it.

The sink has no target of its own: it is not what limits the job (``benchmarks.job``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import redis

from airlines.config import AppConfig
from airlines.config.types import split_endpoint
from airlines.store.connect import RedisAccess, redis_password
from airlines.store.writer import ClusterWriter, SinkSettings
from airlines_testkit.stack import RunningStack, managed_stack
from benchmarks.figures import Figure
from benchmarks.old_sink import OLD_SINK_COMMIT, OldSink, extract_src

ROWS = 100_000
FLIGHTS_PER_ROUTE = 10_000
ROUTES = (("east-coast", "DL"), ("west-coast", "UA"), ("cross-country", "AA"))
START_MS = 1_714_564_800_000
#: How the baseline is named beside each figure.
BASELINE = f"sink of {OLD_SINK_COMMIT[:7]} before its rewrite, built from git"


def window_rows(count: int = ROWS) -> list[tuple[Any, ...]]:
    """``count`` rows as the job hands them over (SINK_COLUMNS order), window by window."""
    flights = len(ROUTES) * FLIGHTS_PER_ROUTE
    rows = []
    for i in range(count):
        window, flight = divmod(i, flights)
        route, designator = ROUTES[flight % len(ROUTES)]
        start = START_MS + 300_000 * window
        rows.append(
            (
                route,
                "Delta",
                f"{designator}{flight // len(ROUTES)}",
                start,
                start + 300_000,
                i % 7 + 1,
                100 + i % 900,
                100.0 + i / 3,
                (i * 7) % 45 / 1.5,
                i % 2,
                (i % 2) / (i % 7 + 1),
                START_MS + 1000,
            )
        )
    return rows


@dataclass(frozen=True)
class Pass:
    """One writer writing the rows once."""

    seconds: float
    client_cpu: float  # seconds, this process
    redis_cpu: float  # seconds, all nodes
    commands: int

    def rate(self, rows: int) -> float:
        return rows / self.seconds

    def client_us(self, rows: int) -> float:
        return self.client_cpu / rows * 1e6

    def redis_us(self, rows: int) -> float:
        return self.redis_cpu / rows * 1e6


class _Nodes:
    """Every Redis node of the config, for their CPU counters and to delete keys."""

    def __init__(self, config: AppConfig) -> None:
        options = RedisAccess.of(config.redis).client_options()
        self.clients = [
            redis.Redis(*split_endpoint(node), **options) for node in config.redis.nodes
        ]

    def cpu_seconds(self) -> float:
        total = 0.0
        for client in self.clients:
            info = client.info("cpu")
            total += float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
        return total

    def delete(self, prefix: str) -> None:
        for client in self.clients:
            if client.info("replication")["role"] != "master":
                continue
            keys = list(client.scan_iter(match=f"{prefix}:*", count=5000))
            for start in range(0, len(keys), 5000):
                pipe = client.pipeline(transaction=False)
                for key in keys[start : start + 5000]:
                    pipe.unlink(key)  # one key per command: keys of other slots too
                pipe.execute()

    def close(self) -> None:
        for client in self.clients:
            client.close()


def _measure(nodes: _Nodes, write: Callable[[], int]) -> Pass:
    redis_before = nodes.cpu_seconds()
    cpu_before = time.process_time()
    started = time.perf_counter()
    commands = write()
    seconds = time.perf_counter() - started
    client_cpu = time.process_time() - cpu_before
    return Pass(seconds, client_cpu, nodes.cpu_seconds() - redis_before, commands)


def _new_sink(settings: SinkSettings, rows: Sequence[tuple[Any, ...]], nodes: _Nodes) -> list[Pass]:
    writer = ClusterWriter(settings)
    passes = []
    try:
        for _ in range(2):
            before = writer.stats.commands

            def write() -> int:
                writer.write_windows(rows, batch_id=1)
                return writer.stats.commands - before  # noqa: B023 (called at once)

            passes.append(_measure(nodes, write))
    finally:
        writer.close()
    return passes


def _old_sink(
    settings: SinkSettings, rows: Sequence[tuple[Any, ...]], nodes: _Nodes, old_src: Path
) -> list[Pass]:
    passes = []
    with OldSink(old_src, settings, rows) as sink:
        for _ in range(2):
            redis_before = nodes.cpu_seconds()
            written = sink.write()
            redis_cpu = nodes.cpu_seconds() - redis_before
            if written.rows != len(rows):
                raise RuntimeError(f"the old sink wrote {written.rows} of {len(rows)} rows")
            passes.append(Pass(written.seconds, written.client_cpu, redis_cpu, written.commands))
    return passes


def sink_settings(config: AppConfig) -> SinkSettings:
    """The sink's settings for ``config``'s Redis (its user, password and TLS)."""
    return SinkSettings.from_config(config.redis, redis_password(config.redis))


def sink_passes(config: AppConfig, rows: Sequence[tuple[Any, ...]], tag: str) -> list[Pass]:
    """The job's sink writing ``rows`` twice into ``config``'s Redis (keys deleted after)."""
    nodes = _Nodes(config)
    settings = replace(sink_settings(config), key_prefix=tag, ttl_seconds=600)
    try:
        return _new_sink(settings, rows, nodes)
    finally:
        nodes.delete(settings.key_prefix)
        nodes.close()


def bench_sink(stack: RunningStack, count: int = ROWS) -> list[Figure]:
    """Window rows/s of the new sink beside the old one, and where the CPU goes.

    Both run over Redis in plaintext, the old sink having no TLS: on ``stack`` if its
    Redis is plaintext, else on a throwaway stack started with ``--insecure-redis``.
    """
    with tempfile.TemporaryDirectory(prefix="bench-sink-") as tmp:
        old_src = extract_src(Path(tmp))
        if stack.config.redis.tls is None:
            return _compare(stack.config, window_rows(count), old_src)
        print("starting a throwaway stack with --insecure-redis …", file=sys.stderr, flush=True)
        with managed_stack(Path(tmp) / "stack", insecure_redis=True) as plain:
            return _compare(plain.config, window_rows(count), old_src)


def _compare(config: AppConfig, rows: list[tuple[Any, ...]], old_src: Path) -> list[Figure]:
    nodes = _Nodes(config)
    base = sink_settings(config)
    tag = f"b{os.getpid() % 100_000}"
    results: dict[str, list[Pass]] = {}
    try:
        for name in ("new", "old"):
            settings = replace(base, key_prefix=f"{tag}{name}", ttl_seconds=600)
            try:
                if name == "new":
                    results[name] = _new_sink(settings, rows, nodes)
                else:
                    results[name] = _old_sink(settings, rows, nodes, old_src)
            finally:
                nodes.delete(settings.key_prefix)
    finally:
        nodes.close()
    return _figures(results, len(rows), base.ack_replicas)


def _figures(results: dict[str, list[Pass]], rows: int, acks: int) -> list[Figure]:
    new, old = results["new"], results["old"]
    cores = os.cpu_count() or 1
    shape = (
        f"{rows:,} rows, every row of a write group another flight: "
        f"{new[0].commands / rows:.2f} commands/row (old sink {old[0].commands / rows:.2f}); "
        f"WAIT {acks} per node; both sinks over Redis in plaintext (--insecure-redis): "
        "the old sink has no TLS"
    )
    figures = []
    for index, what in enumerate(("new windows", "the same windows rewritten")):
        figures.append(
            Figure(
                part="sink",
                name=f"window rows/s, {what} (job's commands, 3 primaries, Redis plaintext)",
                value=new[index].rate(rows),
                unit="rows/s",
                baseline_name=BASELINE,
                baseline_value=old[index].rate(rows),
                note=shape if index == 0 else "",
            )
        )
    for index, what in enumerate(("new windows", "rewritten")):
        figures.append(
            Figure(
                part="sink",
                name=f"writer CPU per row, {what} (Redis plaintext)",
                value=new[index].client_us(rows),
                unit="µs/row",
                better="lower",
                baseline_name=BASELINE,
                baseline_value=old[index].client_us(rows),
            )
        )
        figures.append(
            Figure(
                part="sink",
                name=f"Redis CPU per row (all nodes: primaries, replicas, AOF), {what}, plaintext",
                value=new[index].redis_us(rows),
                unit="µs/row",
                better="lower",
                baseline_name=BASELINE,
                baseline_value=old[index].redis_us(rows),
            )
        )
    best = max(new, key=lambda p: p.rate(rows))
    figures.append(
        Figure(
            part="sink",
            name=f"CPU-bound ceiling on {cores} cores: writer + Redis CPU per row",
            value=cores * 1e6 / (best.client_us(rows) + best.redis_us(rows)),
            unit="rows/s",
            note=f"Redis alone (a free writer): {cores * 1e6 / best.redis_us(rows):,.0f} rows/s",
        )
    )
    return figures
