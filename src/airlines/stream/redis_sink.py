"""The Redis sink of the analytics query (``foreachBatch``): each micro-batch's window
rows go to Redis from the executors, then the driver writes the job's heartbeat.

The executors' Python daemon (:mod:`airlines.stream.spark_daemon`) imports this module
before it forks its workers: they run :func:`partition_writer`'s tasks.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from pyspark.sql import DataFrame, Row

from airlines.contract.redis_layout import SINK_COLUMNS, KeyLayout, heartbeat_commands
from airlines.store.writer import ClusterWriter, SinkSettings, writer_for
from airlines.stream.session import JobError


def partition_writer(
    settings: SinkSettings, batch_id: int
) -> Callable[[Iterable[Row]], Iterator[tuple[int, int]]]:
    """The function each executor task runs over its partition: write, yield the count
    of rows written and of Redis write retries it took (the job's metrics)."""

    def write_partition(rows: Iterable[Row]) -> Iterator[tuple[int, int]]:
        iterator = iter(rows)
        first = next(iterator, None)
        if first is None:
            yield 0, 0
            return
        # The sink reads rows by position: windows.sink_rows must keep SINK_COLUMNS.
        if tuple(first.__fields__) != SINK_COLUMNS:
            raise JobError(f"sink rows have columns {first.__fields__}, expected {SINK_COLUMNS}")
        writer = writer_for(settings)
        retries_before = writer.stats.retries
        written = writer.write_windows(itertools.chain((first,), iterator), batch_id)
        yield written, writer.stats.retries - retries_before

    return write_partition


def _add_counts(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return a[0] + b[0], a[1] + b[1]


def write_batch_to_redis(
    batch: DataFrame, settings: SinkSettings, batch_id: int
) -> tuple[int, int]:
    """Write one micro-batch from the executors; returns the rows written and the Redis
    write retries they took.

    Only two integers per partition reach the driver. An exception in any task
    (after the writer's retries) fails the batch, and with it the query.
    """
    counts = batch.rdd.mapPartitions(partition_writer(settings, batch_id))
    rows, retries = counts.fold((0, 0), _add_counts)
    return int(rows), int(retries)


class RedisBatchSink:
    """``foreachBatch`` target: rows to Redis, then the heartbeat; remembers counts."""

    def __init__(self, settings: SinkSettings) -> None:
        self.settings = settings
        self.layout = KeyLayout(settings.key_prefix)
        self.rows_written: dict[int, int] = {}
        #: Redis write retries of each batch (executors' and the heartbeat's).
        self.redis_retries: dict[int, int] = {}
        self._driver_writer = ClusterWriter(settings)
        self._lock = threading.Lock()

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        rows, retries = write_batch_to_redis(batch, self.settings, batch_id)
        self.rows_written[batch_id] = rows
        before = self._driver_writer.stats.retries
        self.heartbeat(batch_id, rows)
        self.redis_retries[batch_id] = retries + self._driver_writer.stats.retries - before

    def heartbeat(self, batch_id: int, rows: int) -> None:
        with self._lock:
            self._driver_writer.write(
                heartbeat_commands(
                    self.layout,
                    batch_id=batch_id,
                    rows=rows,
                    now_ms=int(time.time() * 1000),
                    ttl_seconds=self.settings.ttl_seconds,
                )
            )

    def close(self) -> None:
        self._driver_writer.close()
