"""The sink's RESP encoder writes exactly the reference commands (pure: no Redis needed)."""

from __future__ import annotations

import itertools
import socket
from typing import Any

import hiredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import key_slot as redis_key_slot

from airlines.contract.redis_layout import KeyLayout, WindowAggregate, write_commands
from airlines.store.encoding import Outbox, WindowEncoder, key_slot
from airlines.store.node import NodeConnection, last_integer, pack, split_commands

START = 1_714_564_800_000


def decoded(outbox: Outbox) -> list[list[bytes]]:
    return split_commands("".join(outbox.payloads).encode("utf-8", "surrogateescape"))


def reference(rows: list[WindowAggregate], layout: KeyLayout, top_n: int) -> list[list[bytes]]:
    """write_commands' output as Redis receives it (every argument as bytes)."""
    return [
        split_commands(pack(command))[0]
        for command in write_commands(rows, layout, ttl_seconds=600, top_n=top_n)
    ]


def encode(rows: list[WindowAggregate], layout: KeyLayout, top_n: int, cuts: list[int]) -> Outbox:
    """Encode in pieces (as the writer does, chunk by chunk), indexes once at the end."""
    encoder = WindowEncoder(layout, ttl_seconds=600, top_n=top_n)
    outbox = Outbox()
    batch_id = rows[0].batch_id if rows else 0
    bounds = [0, *sorted(cuts), len(rows)]
    for start, end in itertools.pairwise(bounds):
        encoder.encode([row.to_row() for row in rows[start:end]], batch_id, outbox)
    encoder.indexes(outbox)
    return outbox


def check_entries(outbox: Outbox) -> None:
    """Each entry: the commands of one slot, as many as it says."""
    for slot, payload, replies in zip(outbox.slots, outbox.payloads, outbox.replies, strict=True):
        commands = split_commands(payload.encode("utf-8", "surrogateescape"))
        assert len(commands) == replies
        assert {redis_key_slot(command[1]) for command in commands} == {slot}


def aggregate(
    flight: str, route: str = "east-coast", window: int = 0, **changes: Any
) -> WindowAggregate:
    values: dict[str, Any] = {
        "route": route,
        "airline": "Delta",
        "flight_id": flight,
        "window_start_ms": START + 300_000 * window,
        "window_end_ms": START + 300_000 * (window + 1),
        "event_count": 3,
        "total_passengers": 450,
        "avg_ticket_price": 0.1 + 0.2,
        "avg_delay_minutes": 12.5,
        "delayed_count": 1,
        "delayed_share": 1 / 3,
        "updated_at_ms": START + 61_250,
        "batch_id": 7,
    }
    return WindowAggregate(**{**values, **changes})


def test_the_encoder_writes_the_reference_commands_in_order() -> None:
    layout = KeyLayout("aa")
    rows = [
        aggregate("DL402", avg_delay_minutes=30.0),
        aggregate("DL7", avg_delay_minutes=5.0, airline="Délta Air Lines ✈"),  # UTF-8
        aggregate("DL402", window=1, avg_delay_minutes=1e-300),
        aggregate("UA1", route="west-coast", window=3, total_passengers=10**12),
        aggregate("DL402", route="cross-country", window=1, avg_ticket_price=1e22),
        aggregate("DL7", window=2, delayed_share=0.0, event_count=0),
    ]
    outbox = encode(rows, layout, top_n=5, cuts=[2, 3])
    assert decoded(outbox) == reference(rows, layout, top_n=5)
    assert outbox.rows == len(rows)
    assert outbox.commands == len(reference(rows, layout, top_n=5))
    check_entries(outbox)
    # One ZADD, trim and TTL per flight index, whatever the rows per flight.
    zadds = [c for c in decoded(outbox) if c[:2] == [b"ZADD", b"aa:flight:DL402:windows"]]
    assert len(zadds) == 1
    assert len(zadds[0]) == 2 + 2 * 3


def test_keys_with_a_hash_tag_go_to_the_tag_slot() -> None:
    layout = KeyLayout("a{b}c")
    rows = [aggregate("DL1"), aggregate("DL2", window=4), aggregate("UA3", route="west-coast")]
    outbox = encode(rows, layout, top_n=3, cuts=[])
    assert decoded(outbox) == reference(rows, layout, top_n=3)
    check_entries(outbox)
    assert set(outbox.slots) == {redis_key_slot(b"b")}


@given(st.binary(max_size=40))
def test_key_slot_is_redis_key_slot(key: bytes) -> None:
    assert key_slot(key) == redis_key_slot(key)


_floats = st.floats(allow_nan=False, allow_infinity=False)
_rows = st.lists(
    st.builds(
        aggregate,
        flight=st.sampled_from(["DL1", "DL22", "AA333", "UA4444", "B65"]),
        route=st.sampled_from(["east-coast", "west-coast", "r{x}"]),
        window=st.integers(0, 30),
        airline=st.text(min_size=1, max_size=8),
        event_count=st.integers(0, 10**6),
        total_passengers=st.integers(0, 10**9),
        avg_ticket_price=_floats,
        avg_delay_minutes=_floats,
        delayed_count=st.integers(0, 10**6),
        delayed_share=_floats,
        updated_at_ms=st.integers(0, 2**42),
        batch_id=st.just(11),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(rows=_rows, cuts=st.lists(st.integers(0, 40), max_size=4), top_n=st.integers(1, 30))
def test_any_rows_encode_to_the_reference_commands(
    rows: list[WindowAggregate], cuts: list[int], top_n: int
) -> None:
    # Rows of one batch have distinct (route, flight, window) (Spark's grouping key).
    unique = list({(r.route, r.flight_id, r.window_start_ms): r for r in rows}.values())
    layout = KeyLayout("aa")
    outbox = encode(unique, layout, top_n, [c for c in cuts if c <= len(unique)])
    assert decoded(outbox) == reference(unique, layout, top_n)
    check_entries(outbox)


# -- reading a node's replies ----------------------------------------------------------------


def replies_of(data: list[bytes], count: int) -> tuple[bool, Any]:
    """Send ``data`` piece by piece through a real socket pair; read ``count`` replies."""
    left, right = socket.socketpair()
    connection = NodeConnection.__new__(NodeConnection)
    connection.address = ("pair", 0)
    connection._sock = left
    try:
        for piece in data:
            right.sendall(piece)
        return connection.read_block(count)
    finally:
        left.close()
        right.close()


def test_a_block_of_integers_is_read_at_once() -> None:
    fast, block = replies_of([b":1\r\n:0\r", b"\n:12\r\n"], 3)  # CRLF across reads
    assert fast
    assert isinstance(block, bytes)
    assert last_integer(block) == 12


@pytest.mark.parametrize(
    "data",
    [
        [b":1\r\n-MOVED 12 127.0.0.1:7001\r\n:3\r\n"],
        [b"-ERR x:y\r\n:2\r\n:3\r\n"],
        [b"+OK\r\n:2\r\n:3\r\n"],
        [b":1\r\n$3\r\nab", b"c\r\n:3\r\n"],  # a reply of two lines
    ],
    ids=["error", "error with colon", "status", "bulk"],
)
def test_anything_but_integers_is_parsed_reply_by_reply(data: list[bytes]) -> None:
    fast, replies = replies_of(data, 3)
    assert not fast
    assert isinstance(replies, list)
    assert len(replies) == 3
    assert replies[-1] == 3
    if data[0].startswith(b":1\r\n-"):
        assert isinstance(replies[1], hiredis.ReplyError)
        assert str(replies[1]) == "MOVED 12 127.0.0.1:7001"


def test_pack_writes_floats_as_repr() -> None:
    assert split_commands(pack(("ZADD", "k", 0.1 + 0.2, "m"))) == [
        [b"ZADD", b"k", repr(0.1 + 0.2).encode(), b"m"]
    ]
