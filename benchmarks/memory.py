"""Memory of the job holding ~50,000 flight x window groups in its state.

A driver and one executor of their own (Spark's ``local-cluster`` master: the executor
is a JVM of its own, like a pod), each given 1 GiB, run the job over a backlog in which
every one of 3 x 10,000 flights has events in the current and the previous five-minute
window. The watermark is ten minutes for this run, so both windows stay in the state
(with the default one minute, the previous window would already be closed). Reported:
the groups in the window state after the batch, and the peak resident memory of the
driver side (driver Python, driver JVM) and of the executor (its JVM and Python
workers), sampled at every batch's progress. Twice: with Spark's default state store
(HDFS-backed: the state lives on the executor's JVM heap) and with RocksDB (off the
heap, in native memory and local files).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airlines.config.loader import dump_config, load_config
from airlines_testkit import stack as testing
from benchmarks.figures import Figure
from benchmarks.job import produce_backlog, run_mode

FLEET = 10_000  # per region: the largest fleet the config allows
#: Events per flight and window: enough that every flight shows up in both windows.
EVENTS = 3 * FLEET * 2 * 4
HEAP = "1g"
#: State store providers compared: (name, spark.sql.streaming.stateStore.providerClass).
PROVIDER_SETTING = "spark.sql.streaming.stateStore.providerClass"
STATE_STORES = [
    ("HDFS-backed state store", None),
    (
        "RocksDB state store",
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
    ),
]


def run(stack: testing.RunningStack) -> list[Figure]:
    figures: list[Figure] = []
    for name, provider in STATE_STORES:
        figures += _run_with(stack, name, provider)
    return figures


def _run_with(stack: testing.RunningStack, store: str, provider: str | None) -> list[Figure]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-mem-") as tmp,
        contextlib.contextmanager(testing.fresh_config)(stack, Path(tmp)) as fresh,
    ):
        streaming = fresh.config.streaming.model_copy(update={"watermark": timedelta(minutes=10)})
        config = fresh.config.model_copy(update={"streaming": streaming})
        path = Path(tmp) / "memory.yaml"
        path.write_text(dump_config(config))
        config = load_config(path)
        # Two whole windows: from the start of the previous one to now.
        now = datetime.now(UTC)
        window_start = now.replace(second=0, microsecond=0, minute=now.minute - now.minute % 5)
        span = now - (window_start - timedelta(minutes=5))
        sent = produce_backlog(config, EVENTS, fleet_size=FLEET, span=span, end=now)
        env = {**os.environ, **fresh.env, "AIRLINES_CONFIG": str(path)}
        conf = [] if provider is None else ["--conf", f"{PROVIDER_SETTING}={provider}"]
        result = run_mode(
            "job",
            path,
            env,
            "--master",
            "local-cluster[1,2,1024]",
            "--driver-memory",
            HEAP,
            "--executor-memory",
            HEAP,
            *conf,
        )
    groups = int(result["window_groups_in_state"])
    note = f"{groups:,} window groups in state after {sent:,} events; heaps {HEAP}"
    return [
        Figure(
            "memory",
            f"driver RSS (driver Python + JVM), 1 GiB heap, {store}",
            result["peak_driver_mib"],
            "MiB",
            better="lower",
            note=note,
        ),
        Figure(
            "memory",
            f"executor RSS (its JVM + Python workers), 1 GiB heap, {store}",
            result["peak_executor_mib"],
            "MiB",
            better="lower",
            note=note,
        ),
        Figure(
            "memory",
            f"window groups held in state, {store}",
            groups,
            "groups",
            target=50_000,
        ),
        Figure(
            "memory",
            f"seconds to aggregate the backlog, {store}",
            result["seconds"],
            "s",
            better="lower",
        ),
    ]
