"""What security costs: Kafka's (TLS and SCRAM, with ACLs) per event, Redis's TLS per row.

A second, throwaway local stack is started with ``--insecure-kafka`` (PLAINTEXT, no
authorizer) and ``--insecure-redis`` (plaintext clients, replication and cluster bus;
the same ACL users) beside the secured one of the run; on each, the same producer loop
sends the same records (events/s, the producer's and the brokers' CPU per event), the
job's Redis sink writes the same window rows (rows/s, the writer's and Redis's CPU per
row), and the job reads the same backlog (``airlines stream --available-now``: records/s
and CPU per million records, Kafka's and Redis's security together). The faster of two
interleaved runs counts. Figures: the secured value, its baseline the insecure one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from airlines.config import AppConfig
from airlines.config.types import split_endpoint
from airlines.kafka.admin import TopicSpec, delete_topics, ensure_topics
from airlines.produce.simulator import FleetSimulator
from airlines_testkit import stack as testing
from benchmarks.figures import Figure
from benchmarks.job import best, produce_backlog, run_mode
from benchmarks.procs import listening_pids
from benchmarks.producer import REGION, Run, _kafka_alone, _rate
from benchmarks.sink import Pass, sink_passes, window_rows

#: Records each producer run sends, and the job's backlog.
EVENTS = 200_000
BACKLOG = 300_000
#: Window rows each sink pass writes.
SINK_ROWS = 50_000
ROUNDS = 2


def _producer(config: AppConfig, records: list[tuple[bytes, bytes]]) -> Run:
    ports = [split_endpoint(server)[1] for server in config.kafka.bootstrap_servers]
    brokers = list(listening_pids(ports).values())
    topic = f"bench-security-{os.getpid()}"
    ensure_topics(config.kafka, [TopicSpec(topic, 3, 3)])
    try:
        return _rate(len(records), lambda: _kafka_alone(config, topic, records), brokers)
    finally:
        delete_topics(config.kafka, [topic])


def _jobs(stacks: list[testing.RunningStack]) -> list[dict[str, Any]]:
    """The job over the same backlog on each stack, the runs interleaved (a noisy minute
    does not hit one stack only); the faster run of each."""
    with contextlib.ExitStack() as resources:
        prepared = []
        for stack in stacks:
            tmp = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="bench-sec-")))
            fresh = resources.enter_context(
                contextlib.contextmanager(testing.fresh_config)(stack, tmp)
            )
            prepared.append((tmp, fresh, produce_backlog(fresh.config, BACKLOG)))
        runs: list[list[dict[str, Any]]] = [[] for _ in stacks]
        for round_ in range(ROUNDS):
            for index, (tmp, fresh, _sent) in enumerate(prepared):
                checkpoint = f"--checkpoint={tmp / f'checkpoint-{round_}'}"
                env = {**os.environ, **fresh.env}
                runs[index].append(run_mode("job", fresh.path, env, checkpoint))
    results = []
    for (_tmp, _fresh, sent), stack_runs in zip(prepared, runs, strict=True):
        result = best(stack_runs)
        if result["records"] != sent:
            raise RuntimeError(f"job read {result['records']} of {sent} records")
        results.append({**result, "sent": sent})
    return results


def run(stack: testing.RunningStack) -> list[Figure]:
    simulator = FleetSimulator(REGION, fleet_size=stack.config.producers.fleet_size, seed=3)
    records = [simulator.record_at(time.time_ns() // 1000) for _ in range(EVENTS)]
    with (
        tempfile.TemporaryDirectory(prefix="bench-insecure-") as tmp,
        testing.managed_stack(Path(tmp), insecure_kafka=True, insecure_redis=True) as insecure,
    ):
        producers: list[list[Run]] = [[], []]
        for _ in range(ROUNDS):  # interleaved, the faster of each counts
            producers[0].append(_producer(insecure.config, records))
            producers[1].append(_producer(stack.config, records))
        open_producer, secure_producer = (max(r, key=lambda run: run.rate) for r in producers)
        rows = window_rows(SINK_ROWS)
        sinks: list[list[Pass]] = [[], []]
        for round_ in range(ROUNDS):
            for index, config in enumerate((insecure.config, stack.config)):
                sinks[index] += sink_passes(config, rows, f"bsec{os.getpid() % 10_000}{round_}")
        open_sink, secure_sink = (min(p, key=lambda one: one.seconds) for p in sinks)
        open_job, secure_job = _jobs([insecure, stack])
    baseline = "no security (PLAINTEXT, no authorizer)"
    secured = "SASL_SSL, SCRAM-SHA-512, ACLs"
    redis_baseline = "Redis in plaintext (same ACL users)"
    million = 1e6

    def job_cpu(result: dict[str, Any]) -> float:
        return float(result["cpu_seconds"]) * million / int(result["sent"])

    return [
        Figure("security", f"producer events/s, {secured}", secure_producer.rate, "events/s",
               baseline_name=baseline, baseline_value=open_producer.rate,
               note=f"{EVENTS:,} records made beforehand, one process"),
        Figure("security", "producer CPU per event (all its threads)", secure_producer.cpu_us,
               "µs/event", better="lower", baseline_name=baseline,
               baseline_value=open_producer.cpu_us),
        Figure("security", "brokers' CPU per event (3 brokers)", secure_producer.brokers_us,
               "µs/event", better="lower", baseline_name=baseline,
               baseline_value=open_producer.brokers_us),
        Figure("security", "sink window rows/s, Redis TLS", secure_sink.rate(len(rows)), "rows/s",
               baseline_name=redis_baseline, baseline_value=open_sink.rate(len(rows)),
               note=f"{len(rows):,} rows (benchmarks.sink), new and rewritten windows; "
               "fastest pass of each"),
        Figure("security", "sink writer CPU per row, Redis TLS", secure_sink.client_us(len(rows)),
               "µs/row", better="lower", baseline_name=redis_baseline,
               baseline_value=open_sink.client_us(len(rows))),
        Figure("security", "Redis CPU per row (6 nodes), TLS", secure_sink.redis_us(len(rows)),
               "µs/row", better="lower", baseline_name=redis_baseline,
               baseline_value=open_sink.redis_us(len(rows))),
        Figure("security", f"job records/s, {BACKLOG // 1000:,}k backlog",
               int(secure_job["sent"]) / float(secure_job["seconds"]), "records/s",
               baseline_name=baseline,
               baseline_value=int(open_job["sent"]) / float(open_job["seconds"]),
               note="airlines stream --available-now, faster of two runs; baseline: Kafka "
               "PLAINTEXT and Redis plaintext"),
        Figure("security", "job CPU seconds per million records", job_cpu(secure_job),
               "CPU s / 1M records", better="lower", baseline_name=baseline,
               baseline_value=job_cpu(open_job)),
    ]  # fmt: skip
