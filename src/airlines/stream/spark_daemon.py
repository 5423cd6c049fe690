"""The Python daemon of the job's executors: PySpark's own, started with what each of
its workers imports already loaded.

PySpark's daemon forks a worker per Python task (the Redis sink's partitions), and each
fork imported PySpark's worker, ``pyspark.sql`` and the sink afresh, from the zip Spark
puts first on their path, which Python cannot cache compiled: about a CPU-second per
worker, paid in the first micro-batch. Imported here once, before the first fork, they
are shared by every worker (``spark.python.daemon.module``).
"""

from __future__ import annotations

import pyspark.worker  # noqa: F401 (loaded for the forks)
from pyspark.daemon import manager

import airlines.stream.redis_sink  # noqa: F401 (the sink's task functions)

if __name__ == "__main__":
    manager()
