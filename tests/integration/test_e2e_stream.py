"""End to end: seeded events -> Kafka -> ``airlines stream --available-now`` -> Redis.

Three produce phases, each followed by its own available-now run, so the watermark
each phase meets is known exactly (the highest event time of the earlier phases minus
the allowed delay: every run ends with a no-data batch that advances it); the oracle
takes the batches as Spark's offset log records them. The input
holds out-of-order events, late events (several per window group in one batch and
across batches), events exactly on the watermark and a millisecond after it,
duplicates (earlier phases' events sent again, and events sent twice in one batch),
and one bad record of every kind.

Every window hash in Redis is compared with an independent pure-Python computation
(:func:`airlines_testkit.oracle.oracle`), and the counts reconcile exactly: events in =
aggregated + dead-lettered + late + duplicates. The same run checks the dead-letter
topic and the query commands.
"""

from __future__ import annotations

import random
import secrets
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.integration.processes import Command, free_port, http_get, wait_for

from airlines.config import AppConfig
from airlines.contract.event import FlightEvent
from airlines.contract.smoke import SMOKE_HEADER, SMOKE_KEY
from airlines.paths import write_private
from airlines.produce.simulator import FleetSimulator
from airlines.store.users import READER_USER, WRITER_USER
from airlines.stream import dead_letters
from airlines.stream.session import checkpoint_dir
from airlines_testkit import stack as stack_testing
from airlines_testkit.bad_records import BadRecord, bad_records
from airlines_testkit.job_log import LoggedBatch, logged_batches
from airlines_testkit.offset_log import batch_phases, caught_up, checkpoint_batches
from airlines_testkit.oracle import OracleResult, config_oracle, differences, parse_valid
from airlines_testkit.services import produce_messages, window_hashes
from airlines_testkit.stack import RunningStack, TopicMessage, read_topic, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.spark]

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
Message = tuple[str, bytes | None, bytes | None]


@dataclass
class Scenario:
    config: AppConfig
    #: The config as the reader user (``airlines query``, the dashboard).
    path: Path
    env: dict[str, str]
    phases: list[list[Message]]
    bad: list[tuple[str, BadRecord]]
    expected: OracleResult
    batches: list[LoggedBatch]
    dead_letters: list[TopicMessage]


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _events(
    rng: random.Random,
    sims: dict[str, FleetSimulator],
    per_topic: int,
    seconds: tuple[int, int],
) -> list[tuple[str, FlightEvent]]:
    return [
        (topic, sims[topic].event_at(_at(rng.randrange(*seconds))))
        for topic in sims
        for _ in range(per_topic)
    ]


def _messages(events: list[tuple[str, FlightEvent]], rng: random.Random) -> list[Message]:
    messages: list[Message] = [(t, e.flight_id.encode(), e.to_json()) for t, e in events]
    rng.shuffle(messages)  # out of order in event time
    return messages


def _on_the_line(
    sims: dict[str, FleetSimulator], topic: str, watermark_s: int
) -> list[tuple[str, FlightEvent]]:
    """An event exactly on the watermark (late) and one a millisecond after it (kept)."""
    return [
        (topic, sims[topic].event_at(_at(watermark_s))),
        (topic, sims[topic].event_at(_at(watermark_s + 0.001))),
    ]


def build_phases(config: AppConfig) -> tuple[list[list[Message]], list[tuple[str, BadRecord]]]:
    rng = random.Random(20240501)
    topics = [t.name for t in config.topics]
    # Six flights per region: late events share groups (flight, window) several times.
    sims = {t.name: FleetSimulator(t.region, fleet_size=6, seed=42) for t in config.topics}
    first, second = topics[0], topics[1]
    # Phase 1: 0-12 min, the latest at 719 s -> watermark 659 s afterwards.
    phase1 = [*_events(rng, sims, 60, (0, 719)), (first, sims[first].event_at(_at(719)))]
    # Phase 2: on time (600-960 s, latest 959 s -> watermark 899 s afterwards), one
    # out-of-order event before the latest but after the watermark (665 s), late events
    # (several per group) in windows that ended at 300 s and 600 s and in the open one,
    # the two on the watermark's line, and duplicates: phase-1 events sent again (late
    # when at or before 659 s) and phase-2 events sent twice within the batch.
    on_time2 = _events(rng, sims, 40, (600, 959))
    phase2 = [
        *on_time2,
        (first, sims[first].event_at(_at(959))),
        (second, sims[second].event_at(_at(665))),
        *_events(rng, sims, 12, (0, 659)),
        *_on_the_line(sims, second, 659),
    ]
    # Phase 3: on time (900-1200 s), late ones (at or before 899 s) in the window that
    # ends at 900 s and in groups that already had late events in phase 2, the
    # watermark's line again, and phase-2 events repeated.
    on_time3 = _events(rng, sims, 20, (900, 1200))
    phase3 = [
        *on_time3,
        *_events(rng, sims, 3, (600, 899)),
        *_events(rng, sims, 6, (0, 600)),
        *_on_the_line(sims, first, 899),
    ]
    template = sims[first].event_at(_at(100))
    bad = [(topics[i % len(topics)], record) for i, record in enumerate(bad_records(template))]
    phases = [_messages(phase1, rng), _messages(phase2, rng), _messages(phase3, rng)]
    # Sent again: earlier phases' events (late, or duplicates when after the watermark)
    # and on-time events of the same batch (duplicates).
    after_watermark = [(t, e) for t, e in on_time2 if e.timestamp > _at(659)]
    phases[1] += rng.sample(phases[0], 30) + _messages(rng.sample(after_watermark, 15), rng)
    phases[2] += rng.sample(phases[1], 10) + _messages(rng.sample(on_time3, 15), rng)
    # The bad records go in with the first phase, spread over the topics.
    phases[0] += [(topic, b"bad", record.value) for topic, record in bad]
    # One flight whose events disagree on the airline's name, in one window: still one
    # flight (its id on its route), one window row, the first of the names.
    base = sims[first].event_at(_at(400))
    renamed = [
        base.model_copy(
            update={
                "event_id": uuid.uuid4(),
                "timestamp": _at(400 + i),
                "airline": f"{base.airline} Air Lines" if i % 2 else base.airline,
            }
        )
        for i in range(4)
    ]
    phases[0] += [(first, e.flight_id.encode(), e.to_json()) for e in renamed]
    # An event under the smoke markers' key but without their header: an event like any
    # other (the key alone cannot hide a record).
    posing = sims[second].event_at(_at(30))
    phases[0].append((second, SMOKE_KEY, posing.to_json()))
    return phases, bad


@pytest.fixture(scope="module")
def scenario(stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    fresh_iter = stack_testing.fresh_config(stack, tmp_path_factory.mktemp("e2e"))
    fresh = next(fresh_iter)
    try:
        config = fresh.config
        phases, bad = build_phases(config)
        log = ""
        for number, phase in enumerate(phases):
            produce_messages(config, phase)
            if number == 0:  # what airlines smoke (helm test) writes: skipped, counted
                produce_messages(
                    config,
                    [(t.name, SMOKE_KEY, b"smoke marker") for t in config.topics],
                    headers=[(SMOKE_HEADER, b"1")],
                )
            run = run_cli(
                "stream",
                "--config",
                str(fresh.path_as(WRITER_USER)),
                "--available-now",
                env=fresh.env,
                timeout=600,
            )
            log += run.stderr + run.stdout
            assert run.returncode == 0, run.stderr[-3000:]
        # The micro-batches as Spark's offset log says they read the topics (each run
        # ends with a no-data batch that moves the watermark on).
        records = [m.record() for t in config.topics for m in read_topic(config, t.name)]
        batches = checkpoint_batches(Path(checkpoint_dir(config, "analytics")))
        assert caught_up(records, batches)
        expected = config_oracle(config, batch_phases(records, batches))
        yield Scenario(
            config,
            fresh.path_as(READER_USER),
            fresh.env,
            phases,
            bad,
            expected,
            logged_batches(log),
            read_topic(config, config.dead_letter.topic),
        )
    finally:
        next(fresh_iter, None)  # runs its cleanup: topics and keys deleted


def _query_json(scenario: Scenario, *args: str) -> Any:
    """``airlines query ARGS --json`` against the scenario's config, parsed."""
    run = run_cli("query", *args, "--json", "--config", str(scenario.path), env=scenario.env)
    assert run.returncode == 0, run.stderr
    return orjson.loads(run.stdout)


def test_redis_holds_exactly_what_the_oracle_computes(scenario: Scenario) -> None:
    actual = window_hashes(scenario.config)
    assert differences(scenario.expected.windows, actual) == []
    # The scenario exercised what it claims to.
    assert scenario.expected.late_events >= 40
    assert scenario.expected.duplicates >= 30  # 30 of the same batch, more from earlier
    assert len(actual) >= 50


def _late_per_group(scenario: Scenario) -> list[Counter[tuple[str, str, int]]]:
    """Per phase: how many late events each (topic, flight, window start) received."""
    window_s = int(scenario.config.streaming.window.total_seconds())
    delay_s = scenario.config.streaming.watermark.total_seconds()
    latest: float | None = None
    per_phase = []
    for phase in scenario.phases:
        counts: Counter[tuple[str, str, int]] = Counter()
        events = [(t, FlightEvent.from_json(v)) for t, k, v in phase if k != b"bad" and v]
        for topic, event in events:
            moment = event.timestamp.timestamp()
            if latest is not None and moment <= latest - delay_s:
                counts[(topic, event.flight_id, int(moment) // window_s)] += 1
        latest = max([latest or 0.0, *(e.timestamp.timestamp() for _, e in events)])
        per_phase.append(counts)
    return per_phase


def test_counts_reconcile_exactly(scenario: Scenario) -> None:
    expected = scenario.expected
    events_in = sum(len(phase) for phase in scenario.phases)
    markers = len(scenario.config.topics)
    logged = scenario.batches
    assert sum(b.input_rows for b in logged) == events_in + markers
    assert sum(b.markers for b in logged) == expected.markers == markers
    # Every late event is counted, however many share a group in a batch or across
    # batches (Spark's aggregation alone would count one per group and batch).
    per_phase = _late_per_group(scenario)
    assert max(per_phase[1].values()) >= 2
    assert max(per_phase[2].values()) >= 2
    assert set(per_phase[1]) & set(per_phase[2])
    assert sum(b.late_events for b in logged) == expected.late_events
    assert expected.late_events == sum(c.total() for c in per_phase)
    assert sum(b.duplicates for b in logged) == expected.duplicates
    assert sum(b.dead_lettered for b in logged) == len(scenario.dead_letters) == len(scenario.bad)
    aggregated = sum(w.event_count for w in expected.windows.values())  # tumbling: one each
    assert aggregated == expected.aggregated_events
    assert events_in + markers == (
        aggregated
        + len(scenario.dead_letters)
        + expected.late_events
        + expected.duplicates
        + expected.markers
    )
    actual_aggregated = sum(int(h["event_count"]) for h in window_hashes(scenario.config).values())
    assert actual_aggregated == aggregated


def test_every_bad_record_is_dead_lettered_with_its_reason(scenario: Scenario) -> None:
    topics = {t.name for t in scenario.config.topics}
    by_value: dict[bytes | None, TopicMessage] = {}
    for letter in scenario.dead_letters:
        assert letter.headers[dead_letters.HEADER_SOURCE_TOPIC] in topics
        assert int(letter.headers[dead_letters.HEADER_SOURCE_PARTITION]) >= 0
        assert int(letter.headers[dead_letters.HEADER_SOURCE_OFFSET]) >= 0
        assert letter.key == b"bad"
        by_value[letter.value] = letter
    for topic, record in scenario.bad:
        found = by_value.get(record.value)
        assert found is not None, f"{record.kind} not dead-lettered"
        assert found.headers[dead_letters.HEADER_SOURCE_TOPIC] == topic, record.kind
        assert record.reason in found.headers[dead_letters.HEADER_REASON], (
            record.kind,
            found.headers[dead_letters.HEADER_REASON],
        )


def test_batches_are_logged_with_their_figures(scenario: Scenario) -> None:
    assert len(scenario.batches) >= 3
    assert sum(b.rows_written for b in scenario.batches) >= len(scenario.expected.windows)


def test_query_routes(scenario: Scenario) -> None:
    run = run_cli("query", "routes", "--json", "--config", str(scenario.path), env=scenario.env)
    assert run.returncode == 0, run.stderr
    routes = orjson.loads(run.stdout)
    expected_routes = sorted({w.route for w in scenario.expected.windows.values()})
    assert [r["route"] for r in routes] == expected_routes
    for summary in routes:
        starts = {
            w.window_start_ms
            for w in scenario.expected.windows.values()
            if w.route == summary["route"]
        }
        assert summary["latest_window_start_ms"] == max(starts)
        assert summary["windows"] == len(starts)
    human = run_cli("query", "routes", "--config", str(scenario.path), env=scenario.env)
    assert human.returncode == 0
    assert all(route in human.stdout for route in expected_routes)


def test_query_top_delays(scenario: Scenario) -> None:
    route = scenario.config.topics[0].route_name
    windows = [w for w in scenario.expected.windows.values() if w.route == route]
    start = min(w.window_start_ms for w in windows)
    in_window = sorted(
        (w for w in windows if w.window_start_ms == start),
        key=lambda w: (w.avg_delay_minutes, w.flight_id),
        reverse=True,
    )
    iso = datetime.fromtimestamp(start / 1000, UTC).isoformat()
    top = _query_json(scenario, "top-delays", "--route", route, "--window", iso, "--limit", "3")
    assert [f["flight_id"] for f in top["flights"]] == [w.flight_id for w in in_window[:3]]
    assert [f["event_count"] for f in top["flights"]] == [w.event_count for w in in_window[:3]]
    latest = run_cli(
        "query", "top-delays", "--route", route, "--config", str(scenario.path), env=scenario.env
    )
    assert latest.returncode == 0, latest.stderr
    newest = max(w.window_start_ms for w in windows)
    leader = max(
        (w for w in windows if w.window_start_ms == newest),
        key=lambda w: (w.avg_delay_minutes, w.flight_id),
    )
    assert route in latest.stdout
    assert leader.flight_id in latest.stdout
    bad = run_cli(
        "query", "top-delays", "--route", route, "--window", "yesterday", env=scenario.env
    )
    assert bad.returncode == 2
    assert "--window" in bad.stderr


def test_query_flight(scenario: Scenario) -> None:
    flight = next(iter(scenario.expected.windows.values())).flight_id
    expected = sorted(
        (w for w in scenario.expected.windows.values() if w.flight_id == flight),
        key=lambda w: w.window_start_ms,
        reverse=True,
    )
    run = run_cli(
        "query",
        "flight",
        flight,
        "--limit",
        "50",
        "--json",
        "--config",
        str(scenario.path),
        env=scenario.env,
    )
    assert run.returncode == 0, run.stderr
    windows = orjson.loads(run.stdout)
    assert [w["window_start_ms"] for w in windows] == [w.window_start_ms for w in expected]
    assert [w["total_passengers"] for w in windows] == [w.total_passengers for w in expected]
    human = run_cli("query", "flight", flight, "--config", str(scenario.path), env=scenario.env)
    assert human.returncode == 0
    assert flight in human.stdout


def test_a_flight_whose_events_disagree_on_the_airline_is_one_row_per_window(
    scenario: Scenario, tmp_path: Path
) -> None:
    """The flight id on its route identifies a flight: ``airlines query flight`` (and the
    dashboard, which reads the same hashes) shows one row per window, with every event
    counted and the first of the names."""
    by_flight: dict[str, set[str]] = {}
    for topic, _, value in scenario.phases[0]:
        if value and topic == scenario.config.topics[0].name:
            event = parse_valid(value)
            if event is not None:
                by_flight.setdefault(event.flight_id, set()).add(event.airline)
    conflicted = [f for f, names in by_flight.items() if len(names) > 1]
    assert conflicted, "the scenario has a flight with two airline names"
    rows = _query_json(scenario, "flight", conflicted[0], "--limit", "1000")
    starts = [(r["route"], r["window_start_ms"]) for r in rows]
    assert len(starts) == len(set(starts)) > 0
    expected = {
        (w.route, w.window_start_ms): w
        for w in scenario.expected.windows.values()
        if w.flight_id == conflicted[0]
    }
    assert {(r["route"], r["window_start_ms"]): (r["airline"], r["event_count"]) for r in rows} == {
        where: (w.airline, w.event_count) for where, w in expected.items()
    }
    assert min(by_flight[conflicted[0]]) in {r["airline"] for r in rows}

    # The dashboard's API answers the same rows.
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token = secrets.token_urlsafe(32)
    token_file = tmp_path / "dashboard-token"
    write_private(token_file, token + "\n")
    dashboard = Command.start(
        "dashboard",
        [
            "dashboard",
            "--port",
            str(port),
            "--config",
            str(scenario.path),
            "--token-file",
            str(token_file),
            "--metrics-port",
            str(free_port()),
        ],
        tmp_path / "dashboard.log",
        scenario.env,
    )
    try:
        wait_for("the dashboard to answer", lambda: http_get(base + "/healthz")[0] == 200, 60)
        status, body = http_get(
            f"{base}/api/flights/{conflicted[0]}?limit=100",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert status == 200, body
        shown = orjson.loads(body)
        assert sorted((r["route"], r["window_start_ms"], r["airline"]) for r in shown) == sorted(
            (r["route"], r["window_start_ms"], r["airline"]) for r in rows
        )
    finally:
        dashboard.stop()
