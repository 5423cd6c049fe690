"""Each event counts once: a file replayed twice, and the same events from two producers.

File A is in the contract's form (with event ids) and is replayed twice, one run after
the other. File B holds the same kind of flights as real data from elsewhere: the
original record's words and times, no event ids; two replays of it run at the same
time (a second producer resending what the first sent). The job reads it all in small
batches, so repeats meet their first copy in the same batch and in later ones. Redis
must equal the oracle over the distinct events, and the job's logged duplicate count
must be every copy beyond the first.
"""

from __future__ import annotations

import os
import random
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from airlines.cli.common import airlines_command
from airlines.config import AppConfig, dump_config
from airlines.contract.event import FlightEvent, FlightStatus
from airlines.contract.redis_layout import KeyLayout
from airlines.produce.simulator import FleetSimulator
from airlines_testkit.job_log import logged_batches
from airlines_testkit.oracle import OracleResult, differences, oracle
from airlines_testkit.services import window_hashes
from airlines_testkit.stack import FreshConfig, read_topic, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.spark]

T0 = datetime(2024, 5, 1, 11, 58, tzinfo=UTC)  # 12:00 is a window boundary
EVENTS_PER_FILE = 300


def _original_style(event: FlightEvent) -> dict[str, object]:
    """The event as the original project wrote its records (no id, its words and times)."""
    data: dict[str, object] = orjson.loads(event.to_json())
    del data["event_id"]
    data["flight_status"] = "Delayed" if event.flight_status is FlightStatus.DELAYED else "On Time"
    data["route_type"] = event.route_type.value.replace("-", "_")
    for name in ("scheduled_departure", "scheduled_arrival", "timestamp"):
        moment: datetime = getattr(event, name)
        data[name] = moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    return data


def _replay(path: Path, file: Path, topic: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*airlines_command(), "replay", str(file), "--topic", topic, "--config", str(path)],
        env={**os.environ, **env, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finished(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err[-2000:]
    return out + err


def test_replays_and_a_second_producer_count_each_event_once(
    fresh_config: FreshConfig, tmp_path: Path
) -> None:
    # Small batches, so repeats are split across batches; a watermark longer than the
    # events' span, so none is late however the batches fall.
    data = fresh_config.config.model_dump(by_alias=True)
    data["streaming"].update({"maxOffsetsPerTrigger": 150, "watermark": "1h"})
    config = AppConfig.model_validate(data)
    path = tmp_path / "exactly-once.yaml"
    path.write_text(dump_config(config))
    first, second = config.topics[0], config.topics[1]

    rng = random.Random(11)

    def events(sim: FleetSimulator) -> list[FlightEvent]:
        return [
            sim.event_at(
                T0 + timedelta(seconds=rng.randrange(240), microseconds=rng.randrange(999))
            )
            for _ in range(EVENTS_PER_FILE)
        ]

    file_a = tmp_path / "contract.jsonl"
    lines_a = [e.to_json() for e in events(FleetSimulator(first.region, fleet_size=10, seed=5))]
    file_a.write_bytes(b"\n".join(lines_a) + b"\n")
    file_b = tmp_path / "from-elsewhere.jsonl"
    sim_b = FleetSimulator(second.region, fleet_size=10, seed=6)
    lines_b = [orjson.dumps(_original_style(e)) for e in events(sim_b)]
    file_b.write_bytes(b"\n".join(lines_b) + b"\n")

    # A twice, one after the other; B from two producers at once.
    for _ in range(2):
        _finished(_replay(path, file_a, first.name, fresh_config.env))
    both = [_replay(path, file_b, second.name, fresh_config.env) for _ in range(2)]
    outputs = [_finished(p) for p in both]
    assert all(f"{EVENTS_PER_FILE} with derived event_ids" in out for out in outputs), outputs

    run = run_cli(
        "stream", "--config", str(path), "--available-now", env=fresh_config.env, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]

    sent = [
        (topic.name, message.value)
        for topic in (first, second)
        for message in read_topic(config, topic.name)
    ]
    assert len(sent) == 4 * EVENTS_PER_FILE
    routes = {t.name: t.route_name for t in config.topics}
    layout = KeyLayout(config.redis.key_prefix)

    def computed(messages: list[tuple[str, bytes | None]]) -> OracleResult:
        streaming = config.streaming
        return oracle(
            [messages],
            routes,
            layout,
            window=streaming.window,
            slide=streaming.slide,
            watermark=streaming.watermark,
        )

    expected = computed(sent)
    distinct = {FlightEvent.from_json(v or b"").event_id: (t, v) for t, v in sent}
    assert len(distinct) == 2 * EVENTS_PER_FILE
    over_distinct = computed(list(distinct.values()))
    assert expected.windows.keys() == over_distinct.windows.keys()
    assert expected.duplicates == 2 * EVENTS_PER_FILE
    assert expected.aggregated_events == over_distinct.aggregated_events == 2 * EVENTS_PER_FILE
    assert expected.late_events == expected.rejected == 0

    assert differences(over_distinct.windows, window_hashes(config)) == []
    batches = logged_batches(run.stderr + run.stdout)
    assert len(batches) >= 4  # the repeats met their first copies across batches
    assert sum(b.input_rows for b in batches) == len(sent)
    assert sum(b.duplicates for b in batches) == 2 * EVENTS_PER_FILE
    assert sum(b.late_events + b.dead_lettered for b in batches) == 0
