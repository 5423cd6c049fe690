"""One event dated centuries ahead cannot stop the analytics, even across a restart.

The watermark follows the highest event time seen and is kept in the checkpoint: were
such an event aggregated, every later event would be late for good. It is dead-lettered
instead (``streaming.maxFutureSkew``), and the events after it are aggregated.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airlines.produce.simulator import FleetSimulator
from airlines.stream import dead_letters
from airlines.stream.session import checkpoint_dir
from airlines_testkit.offset_log import batch_phases, caught_up, checkpoint_batches
from airlines_testkit.oracle import config_oracle, differences
from airlines_testkit.services import produce_messages, window_hashes
from airlines_testkit.stack import FreshConfig, read_topic, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.spark]

CENTURIES_AHEAD = datetime(2999, 1, 1, tzinfo=UTC)


def test_an_event_dated_centuries_ahead_is_dead_lettered_and_the_analytics_go_on(
    fresh_config: FreshConfig,
) -> None:
    config = fresh_config.config
    topics = [t.name for t in config.topics]
    sims = {t.name: FleetSimulator(t.region, fleet_size=6, seed=11) for t in config.topics}
    start = datetime.now(UTC) - timedelta(minutes=10)

    def events(first_second: int, count: int) -> list[tuple[str, bytes | None, bytes | None]]:
        out: list[tuple[str, bytes | None, bytes | None]] = []
        for i in range(count):
            topic = topics[i % len(topics)]
            event = sims[topic].event_at(start + timedelta(seconds=first_second + i))
            out.append((topic, event.flight_id.encode(), event.to_json()))
        return out

    future = sims[topics[0]].event_at(CENTURIES_AHEAD)
    # The batch ends with the far-future event, after every valid one.
    produce_messages(config, events(0, 240))
    produce_messages(config, [(topics[0], future.flight_id.encode(), future.to_json())])
    stream = ("stream", "--config", str(fresh_config.path), "--available-now")
    first = run_cli(*stream, env=fresh_config.env, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]

    # A restart from the checkpoint, then later valid events.
    produce_messages(config, events(300, 240))
    second = run_cli(*stream, env=fresh_config.env, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]

    records = [m.record() for t in topics for m in read_topic(config, t)]
    batches = checkpoint_batches(Path(checkpoint_dir(config, "analytics")))
    assert caught_up(records, batches)
    expected = config_oracle(config, batch_phases(records, batches))
    assert (expected.aggregated_events, expected.rejected, expected.late_events) == (480, 1, 0)
    assert differences(expected.windows, window_hashes(config)) == []

    letters = read_topic(config, config.dead_letter.topic)
    assert [letter.value for letter in letters] == [future.to_json()]
    sent = next(r for r in records if r.value == future.to_json())
    assert sent.timestamp_ms is not None
    sent_at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=sent.timestamp_ms)
    assert letters[0].headers[dead_letters.HEADER_REASON] == (
        "timestamp: 2999-01-01T00:00:00.000000Z is more than 1h (streaming.maxFutureSkew) "
        f"after its Kafka record's timestamp {sent_at.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z"
    )
