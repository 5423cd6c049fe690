"""Hostile input for tests: malformed records of every kind mixed into valid traffic.

Each builder takes a valid event's JSON and a ``random.Random`` and returns bytes;
:func:`hostile_record` picks one kind (or a tombstone). The property test (hypothesis,
``tests/spark/test_hostile_input.py``) drives it with the randoms hypothesis draws and
shrinks, the Kafka-level test with a seeded ``Random``: both use the same catalogue.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import orjson

from airlines.contract.event import FlightEvent

#: Text fields of the contract (date-times included: they are JSON strings too).
TEXT_FIELDS = tuple(
    name
    for name, field in FlightEvent.model_json_schema()["properties"].items()
    if field.get("type") == "string" or "$ref" in field
)
NUMBER_FIELDS = ("passenger_count", "ticket_price", "delay_minutes")
_BAD_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80")


def _replace(valid: bytes, field: str, raw: bytes) -> bytes:
    """The record with ``field``'s value replaced by the raw JSON text ``raw``."""
    data = orjson.loads(valid)
    marker = "\u0000MARK\u0000"
    data[field] = marker
    text = json.dumps(data, separators=(",", ":")).encode()
    return text.replace(json.dumps(marker).encode(), raw, 1)


def _json_value(rng: random.Random, depth: int = 0) -> object:
    """A random JSON value (valid JSON of any shape)."""
    kinds = ["null", "bool", "int", "float", "str"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "null":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.randint(-(2**40), 2**40)
    if kind == "float":
        return rng.uniform(-1e6, 1e6)
    if kind == "str":
        return "".join(rng.choice('ab{}[]":,\\ é☃') for _ in range(rng.randint(0, 12)))
    if kind == "list":
        return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {f"k{i}": _json_value(rng, depth + 1) for i in range(rng.randint(0, 4))}


def truncated(valid: bytes, rng: random.Random) -> bytes:
    return valid[: rng.randrange(len(valid) - 1)]


def invalid_utf8(valid: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(valid))
    return valid[:at] + rng.choice(_BAD_UTF8) + valid[at:]


def deeply_nested(valid: bytes, rng: random.Random) -> bytes:
    depth = rng.randint(1500, 6000)
    inner = b"[" * depth + b"]" * depth
    if rng.random() < 0.5:
        return inner
    return _replace(valid, rng.choice((*TEXT_FIELDS, "extra")), inner)


def duplicate_key(valid: bytes, rng: random.Random) -> bytes:
    field = rng.choice(sorted(orjson.loads(valid)))
    again = orjson.loads(valid)[field] if rng.random() < 0.5 else _json_value(rng)
    return valid[:-1] + b"," + json.dumps(field).encode() + b":" + json.dumps(again).encode() + b"}"


def beyond_int64(valid: bytes, rng: random.Random) -> bytes:
    number = rng.choice((1, -1)) * rng.randint(2**63, 2**90)
    return _replace(valid, rng.choice(NUMBER_FIELDS), str(number).encode())


def non_finite(valid: bytes, rng: random.Random) -> bytes:
    token = rng.choice((b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400"))
    return _replace(valid, rng.choice(NUMBER_FIELDS), token)


def huge_string(valid: bytes, rng: random.Random) -> bytes:
    size = rng.choice((65, 1000, 100_000, 400_000))
    return _replace(valid, rng.choice(TEXT_FIELDS), json.dumps("x" * size).encode())


def wrong_type(valid: bytes, rng: random.Random) -> bytes:
    """A field holding a JSON value of another type (or null)."""
    field = rng.choice(sorted(orjson.loads(valid)))
    return _replace(valid, field, json.dumps(_json_value(rng)).encode())


def wrong_shape(valid: bytes, rng: random.Random) -> bytes:
    """Valid JSON that is not the event: another value, or an object of other keys."""
    return json.dumps(_json_value(rng)).encode()


def unknown_field(valid: bytes, rng: random.Random) -> bytes:
    """A valid event plus a key the contract does not know (the job ignores it)."""
    value = json.dumps(_json_value(rng)).encode()
    return valid[:-1] + b',"x_unknown":' + value + b"}"


def garbage(valid: bytes, rng: random.Random) -> bytes:
    return rng.randbytes(rng.randint(0, 300))


def trailing(valid: bytes, rng: random.Random) -> bytes:
    return valid + rng.choice((b" x", b"{}", b"," + valid, b"\x00", b" " + valid))


BUILDERS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "truncated": truncated,
    "invalid UTF-8": invalid_utf8,
    "deeply nested": deeply_nested,
    "duplicate key": duplicate_key,
    "beyond int64": beyond_int64,
    "NaN or Infinity": non_finite,
    "huge string": huge_string,
    "wrong type": wrong_type,
    "wrong shape": wrong_shape,
    "unknown field": unknown_field,
    "garbage": garbage,
    "text after the object": trailing,
}


def hostile_record(valid: bytes, rng: random.Random) -> tuple[str, bytes | None]:
    """One record of a random kind (a tombstone now and then)."""
    if rng.random() < 0.02:
        return "tombstone", None
    kind = rng.choice(sorted(BUILDERS))
    return kind, BUILDERS[kind](valid, rng)
