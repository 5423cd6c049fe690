"""What Kafka's security (TLS and SCRAM, with ACLs) costs per event, beside no security.

A second, throwaway local stack is started with ``--insecure-kafka`` (PLAINTEXT, no
authorizer) beside the secured one of the run; on each, the same producer loop sends
the same records (events/s, the producer's and the brokers' CPU per event), and the job
reads the same backlog (``airlines stream --available-now``: records/s and CPU per
million records, the faster of two runs). Figures: the secured value, its baseline the
insecure one.
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
from airlines.kafka_admin import TopicSpec, delete_topics, ensure_topics
from airlines.producers.simulator import FleetSimulator
from airlines.stack import testing
from benchmarks.figures import Figure
from benchmarks.job import best, produce_backlog, run_mode
from benchmarks.procs import listening_pids
from benchmarks.producer import REGION, Run, _kafka_alone, _rate

#: Records each producer run sends, and the job's backlog.
EVENTS = 200_000
BACKLOG = 300_000
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


def _job(stack: testing.RunningStack) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-security-") as tmp,
        contextlib.contextmanager(testing.fresh_config)(stack, Path(tmp)) as fresh,
    ):
        sent = produce_backlog(fresh.config, BACKLOG)
        env = {**os.environ, **fresh.env}
        runs = [
            run_mode("job", fresh.path, env, f"--checkpoint={Path(tmp) / f'checkpoint-{n}'}")
            for n in range(ROUNDS)
        ]
    result = best(runs)
    if result["records"] != sent:
        raise RuntimeError(f"job read {result['records']} of {sent} records")
    return {**result, "sent": sent}


def run(stack: testing.RunningStack) -> list[Figure]:
    simulator = FleetSimulator(REGION, fleet_size=stack.config.producers.fleet_size, seed=3)
    records = [simulator.record_at(time.time_ns() // 1000) for _ in range(EVENTS)]
    with (
        tempfile.TemporaryDirectory(prefix="bench-insecure-") as tmp,
        testing.managed_stack(Path(tmp), insecure_kafka=True) as insecure,
    ):
        open_producer = _producer(insecure.config, records)
        secure_producer = _producer(stack.config, records)
        open_job = _job(insecure)
        secure_job = _job(stack)
    baseline = "no security (PLAINTEXT, no authorizer)"
    secured = "SASL_SSL, SCRAM-SHA-512, ACLs"
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
        Figure("security", f"job records/s, {BACKLOG // 1000:,}k backlog",
               int(secure_job["sent"]) / float(secure_job["seconds"]), "records/s",
               baseline_name=baseline,
               baseline_value=int(open_job["sent"]) / float(open_job["seconds"]),
               note="airlines stream --available-now, faster of two runs"),
        Figure("security", "job CPU seconds per million records", job_cpu(secure_job),
               "CPU s / 1M records", better="lower", baseline_name=baseline,
               baseline_value=job_cpu(open_job)),
    ]  # fmt: skip
