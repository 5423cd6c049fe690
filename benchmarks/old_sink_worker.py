"""The old sink's process (:mod:`benchmarks.old_sink`): today's package is never imported.

Run as ``python -P old_sink_worker.py <old src>`` with ``PYTHONPATH=<old src>``, so
``airlines`` is the package of the old commit throughout (checked before anything else).
Reads one JSON line from stdin: the old ``SinkSettings`` fields, the row columns and the
rows. Then, for each ``write`` line, writes every row as the old job's partition writer
did (a ``WindowAggregate`` per row, 2,000 rows per write) and answers with a JSON line:
seconds, this process's CPU seconds, commands sent and rows written. Ends at stdin's end.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path


def main(old_src: Path) -> int:
    package = importlib.import_module("airlines")
    where = Path(package.__file__ or "").resolve()
    if not where.is_relative_to(old_src.resolve()):
        print(f"airlines is imported from {where}, not from {old_src}", file=sys.stderr)
        return 2
    streaming = importlib.import_module("airlines.jobs.streaming")
    redis_sink = importlib.import_module("airlines.jobs.redis_sink")
    job = json.loads(sys.stdin.readline())
    settings = redis_sink.SinkSettings(
        **{**job["settings"], "nodes": tuple(job["settings"]["nodes"])}
    )
    rows = [dict(zip(job["columns"], row, strict=True)) for row in job["rows"]]
    writer = redis_sink.writer_for(settings)  # the one the partition writer uses
    try:
        for line in sys.stdin:
            if line.strip() != "write":
                raise ValueError(f"unknown request {line!r}")
            commands = writer.stats.commands
            cpu = time.process_time()
            started = time.perf_counter()
            written = sum(streaming.partition_writer(settings, 1)(rows))
            reply = {
                "seconds": time.perf_counter() - started,
                "client_cpu": time.process_time() - cpu,
                "commands": writer.stats.commands - commands,
                "rows": written,
            }
            print(json.dumps(reply), flush=True)
    finally:
        writer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
