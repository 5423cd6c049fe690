"""``make bench``: every figure, each beside a baseline measured in the same run.

* sink: window rows/s into the 3-primary Redis Cluster, beside the sink before its
  rewrite built from its git commit, both over Redis in plaintext (:mod:`benchmarks.sink`);
* producer: events/s one process gets acknowledged (:mod:`benchmarks.producer`);
* job: records/s over a backlog beside bare Spark, the cost of de-duplication, and CPU
  seconds per million records (:mod:`benchmarks.job`);
* freshness: p50/p95/p99 from production to visible in Redis at a steady rate, with the
  default 30 s trigger and with 5 s (:mod:`benchmarks.freshness`);
* memory: driver and executor RSS holding ~50k window groups (:mod:`benchmarks.memory`);
* security: what TLS, SCRAM and ACLs cost the producer, the brokers and the job per
  event, beside a throwaway stack without them (:mod:`benchmarks.security`).

Uses the running local stack when it is up (``airlines stack up``), else starts a
throwaway one. Prints one table (``--json``: the same figures as JSON); never asserts.
``--only sink,producer`` runs some parts. Takes about 15 minutes on 2 cores.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from airlines.cli.stream import spark_settings
from airlines_testkit.stack import RunningStack
from benchmarks import freshness, job, memory, security
from benchmarks.figures import Figure
from benchmarks.old_sink import OldSinkUnavailableError, check_commit
from benchmarks.producer import bench_producer
from benchmarks.report import as_json, table
from benchmarks.sink import ROWS, bench_sink


@dataclass(frozen=True)
class BenchOptions:
    """What the command line chose: the job's backlogs, the freshness runs' shape."""

    sizes: list[int]
    seconds: float
    triggers: list[timedelta]
    sink_rows: int = ROWS
    spark_conf: dict[str, str] = field(default_factory=dict)


PARTS: dict[str, Callable[[RunningStack, BenchOptions], list[Figure]]] = {
    "sink": lambda stack, o: bench_sink(stack, o.sink_rows),
    "producer": lambda stack, _o: bench_producer(stack.config),
    "job": lambda stack, o: [f for records in o.sizes for f in job.run(stack, records)],
    "freshness": lambda stack, o: [
        figure
        for trigger in o.triggers
        for figure in freshness.run(stack, trigger, seconds=o.seconds, extra=o.spark_conf)
    ],
    "memory": lambda stack, _o: memory.run(stack),
    "security": lambda stack, _o: security.run(stack),
}

#: Parts that run over Redis in plaintext (the old sink has no TLS): when only they run,
#: the throwaway stack is started with --insecure-redis.
PLAINTEXT_REDIS_PARTS = frozenset({"sink"})


def running_stack() -> RunningStack | None:
    """The local stack of ``airlines stack up``, if it is up and answers."""
    from airlines.cli.common import stack_config_path
    from airlines.stack.local import LocalStack

    path = stack_config_path()
    if not path.exists():
        return None
    local = LocalStack(path.parent)
    try:
        status = local.status()
        if not status.up:
            return None
        config = local.config()
    except Exception:
        return None
    env = {"AIRLINES_CONFIG": str(path), "AIRLINES_STACK_DIR": str(path.parent)}
    return RunningStack(local, status, config, path, env)


@contextmanager
def stack_for_bench(*, insecure_redis: bool = False) -> Iterator[RunningStack]:
    from airlines_testkit.stack import managed_stack

    found = running_stack()
    if found is not None:
        yield found
        return
    with ExitStack() as resources:
        root = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        how = " with --insecure-redis" if insecure_redis else ""
        print(f"starting a throwaway local stack{how} …", file=sys.stderr, flush=True)
        yield resources.enter_context(managed_stack(root, insecure_redis=insecure_redis))


def main(
    as_json_output: Annotated[bool, typer.Option("--json", help="The figures as JSON.")] = False,
    only: Annotated[
        str, typer.Option(help=f"Comma-separated parts to run, of: {', '.join(PARTS)}.")
    ] = ",".join(PARTS),
    records: Annotated[
        list[int] | None,
        typer.Option(
            min=30_000,
            help="Backlog of the job figures (records; repeatable: one run per size). "
            f"Default: {', '.join(f'{n:,}' for n in job.DEFAULT_SIZES)}.",
        ),
    ] = None,
    seconds: Annotated[
        float, typer.Option(min=30, help="Measured span of each freshness run (s).")
    ] = freshness.DEFAULT_SECONDS,
    sink_rows: Annotated[
        int, typer.Option(min=1000, help="Window rows each sink writes (twice).")
    ] = ROWS,
    trigger: Annotated[
        list[float] | None,
        typer.Option(min=1, help="Trigger of a freshness run (s; repeatable). Default: 30, 5."),
    ] = None,
    conf: Annotated[
        list[str] | None,
        typer.Option(
            help="A Spark setting KEY=VALUE for the freshness runs' job (repeatable), e.g. "
            "another state store provider."
        ),
    ] = None,
) -> None:
    """Print the throughput, freshness, memory and CPU figures (never asserted)."""
    parts = [p.strip() for p in only.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise typer.BadParameter(f"unknown part(s) {unknown}; choose from {list(PARTS)}")
    options = BenchOptions(
        sizes=records or list(job.DEFAULT_SIZES),
        seconds=seconds,
        triggers=[timedelta(seconds=t) for t in trigger or (30, 5)],
        sink_rows=sink_rows,
        spark_conf=spark_settings(conf or []),
    )
    if "sink" in parts:
        try:
            check_commit()  # before any stack starts
        except OldSinkUnavailableError as exc:
            raise SystemExit(f"error: {exc}") from exc
    figures: list[Figure] = []
    with stack_for_bench(insecure_redis=set(parts) <= PLAINTEXT_REDIS_PARTS) as stack:
        for part in parts:
            print(f"==> {part}", file=sys.stderr, flush=True)
            figures += PARTS[part](stack, options)
    print(as_json(figures) if as_json_output else table(figures), flush=True)


if __name__ == "__main__":
    typer.run(main)
