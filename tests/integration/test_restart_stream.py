"""kill -9 the job part-way through, restart from the checkpoint: Redis equals the oracle."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest

from airlines.cli.common import airlines_command
from airlines.config import AppConfig, dump_config
from airlines.contract.redis_layout import KeyLayout
from airlines.produce.simulator import FleetSimulator
from airlines.store.connect import cluster_client
from airlines_testkit.oracle import differences, oracle
from airlines_testkit.services import produce_messages, window_hashes
from airlines_testkit.stack import FreshConfig, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.spark]

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def heartbeat_batch(config: AppConfig) -> int:
    client = cluster_client(config.redis)
    try:
        value = client.hget(KeyLayout(config.redis.key_prefix).heartbeat(), "batch_id")
        return int(value) if value is not None else -1
    finally:
        client.close()


def test_kill_9_and_restart_resumes_exactly(fresh_config: FreshConfig) -> None:
    # Small batches, so the kill lands mid-stream; a watermark longer than the event
    # span, so no event is late however the batches fall.
    data = fresh_config.config.model_dump(by_alias=True)
    data["streaming"].update({"maxOffsetsPerTrigger": 120, "watermark": "1h"})
    config = AppConfig.model_validate(data)
    path = fresh_config.path.with_name("restart.yaml")
    path.write_text(dump_config(config))

    rng = random.Random(7)
    sims = {t.name: FleetSimulator(t.region, fleet_size=8, seed=3) for t in config.topics}
    messages = []
    for _ in range(1500):
        topic = rng.choice(sorted(sims))
        event = sims[topic].event_at(T0 + timedelta(seconds=rng.randrange(1200)))
        messages.append((topic, event.flight_id.encode(), event.to_json()))
    produce_messages(config, messages)

    env = {**os.environ, **fresh_config.env, "NO_COLOR": "1"}
    job = subprocess.Popen(
        [*airlines_command(), "stream", "--config", str(path), "--available-now"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the kill takes the JVM too
    )
    try:
        deadline = time.monotonic() + 300
        while heartbeat_batch(config) < 2:
            assert job.poll() is None, "the job ended before it could be killed"
            assert time.monotonic() < deadline, "no batch finished within 300 s"
            time.sleep(0.2)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(30)
    killed_at = heartbeat_batch(config)
    assert len(window_hashes(config)) > 0, "the first run wrote something"

    rerun = run_cli(
        "stream", "--config", str(path), "--available-now", env=fresh_config.env, timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert heartbeat_batch(config) > killed_at

    expected = oracle(
        [[(topic, value) for topic, _, value in messages]],
        {t.name: t.route_name for t in config.topics},
        KeyLayout(config.redis.key_prefix),
        window=config.streaming.window,
        slide=config.streaming.slide,
        watermark=config.streaming.watermark,
    )
    assert expected.late_events == expected.duplicates == 0
    assert differences(expected.windows, window_hashes(config)) == []
