"""The Redis key layout and the commands the sink sends (pure: no Redis needed)."""

from __future__ import annotations

from airlines.contract.redis_layout import (
    KeyLayout,
    WindowAggregate,
    heartbeat_commands,
    iso_utc,
    parse_iso_ms,
    write_commands,
)

LAYOUT = KeyLayout("aa")
START = 1_714_564_800_000  # 2024-05-01T12:00:00Z


def aggregate(
    flight: str = "DL402", route: str = "east-coast", start: int = START, delay: float = 12.5
) -> WindowAggregate:
    return WindowAggregate(
        route=route,
        airline="Delta",
        flight_id=flight,
        window_start_ms=start,
        window_end_ms=start + 300_000,
        event_count=3,
        total_passengers=450,
        avg_ticket_price=0.1 + 0.2,
        avg_delay_minutes=delay,
        delayed_count=1,
        delayed_share=1 / 3,
        updated_at_ms=START + 61_000,
        batch_id=7,
    )


def test_key_names() -> None:
    assert LAYOUT.window("east-coast", "DL402", START) == f"aa:win:east-coast:DL402:{START}"
    assert LAYOUT.route_windows("east-coast") == "aa:route:east-coast:windows"
    assert LAYOUT.route_delays("east-coast", START) == f"aa:delays:east-coast:{START}"
    assert LAYOUT.flight_windows("DL402") == "aa:flight:DL402:windows"
    assert LAYOUT.routes() == "aa:routes"
    assert LAYOUT.heartbeat() == "aa:job:heartbeat"


def test_hash_round_trip_is_exact() -> None:
    row = aggregate()
    fields = row.to_hash()
    assert fields["window_start"] == "2024-05-01T12:00:00Z"
    assert fields["window_end"] == "2024-05-01T12:05:00Z"
    assert fields["avg_ticket_price"] == repr(0.1 + 0.2)
    assert WindowAggregate.from_hash(fields) == row
    assert WindowAggregate.from_hash({k.encode(): v.encode() for k, v in fields.items()}) == row


def test_times() -> None:
    assert iso_utc(START) == "2024-05-01T12:00:00Z"
    assert iso_utc(START + 250) == "2024-05-01T12:00:00.250Z"
    assert parse_iso_ms("2024-05-01T12:00:00Z") == START
    assert parse_iso_ms("2024-05-01T14:00:00+02:00") == START
    assert parse_iso_ms("2024-05-01T12:00:00") == START


def test_commands_write_hash_indexes_and_ttl_everywhere() -> None:
    rows = [
        aggregate("DL402", delay=30.0),
        aggregate("DL7", delay=5.0),
        aggregate("UA1", route="west-coast", start=START + 300_000),
    ]
    commands = write_commands(rows, LAYOUT, ttl_seconds=600, top_n=5)
    written = {str(c[1]) for c in commands if c[0] != "EXPIRE"}
    expired = {str(c[1]) for c in commands if c[0] == "EXPIRE"}
    assert written == expired, "every key written gets its TTL re-applied"
    assert all(c[2] == 600 for c in commands if c[0] == "EXPIRE")
    delays = [c for c in commands if c[0] == "ZADD" and "delays:east-coast" in str(c[1])]
    assert delays == [("ZADD", f"aa:delays:east-coast:{START}", "5.0", "DL7", "30.0", "DL402")]
    # Route-level keys are written once per call, not once per row.
    assert sum(1 for c in commands if c[1] == LAYOUT.routes() and c[0] == "SADD") == 1
    assert ("SADD", "aa:routes", "east-coast", "west-coast") in commands
    assert ("ZREMRANGEBYRANK", "aa:route:east-coast:windows", 0, -6) in commands
    flight_index = [c for c in commands if c[1] == LAYOUT.flight_windows("DL402")]
    assert flight_index[0] == (
        "ZADD",
        "aa:flight:DL402:windows",
        START,
        f"aa:win:east-coast:DL402:{START}",
    )


def test_commands_are_a_function_of_the_rows_only() -> None:
    """Replaying a batch sends the very same commands: no clocks, no random members."""
    rows = [aggregate("DL402"), aggregate("DL7", delay=3.0)]
    first = write_commands(rows, LAYOUT, ttl_seconds=60, top_n=3)
    again = write_commands(list(reversed(rows)), LAYOUT, ttl_seconds=60, top_n=3)
    assert sorted(map(repr, first)) == sorted(map(repr, again))


def test_heartbeat() -> None:
    commands = heartbeat_commands(LAYOUT, batch_id=4, rows=10, now_ms=123, ttl_seconds=9)
    assert commands[0] == (
        "HSET",
        "aa:job:heartbeat",
        "batch_id",
        4,
        "updated_at_ms",
        123,
        "rows",
        10,
    )


def test_batch_reports_round_trip_and_old_ones_have_no_markers() -> None:
    import orjson

    from airlines.contract.redis_layout import BatchSummary

    summary = BatchSummary(7, 1_700_000_000_000, 120, 40, 3, 2, 1, 950, None, markers=3)
    assert BatchSummary.from_json(summary.to_json_bytes()) == summary
    old = orjson.loads(summary.to_json_bytes())
    del old["markers"]  # written before markers were counted
    assert BatchSummary.from_json(orjson.dumps(old)).markers == 0
