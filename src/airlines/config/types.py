"""Small value types shared by the configuration models: durations and endpoints."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_PATTERN = r"^[0-9]+(ms|s|m|h|d)$"


def parse_duration(value: Any) -> timedelta:
    """``"30s"`` -> 30 seconds. Accepts ms, s, m, h, d; a bare int means seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 1m or 5m, not a boolean")
    if isinstance(value, int):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 30s, 1m or 5m, got {value!r}")
    match = _DURATION.match(value)
    if not match:
        raise ValueError(
            f"invalid duration {value!r}: use a whole number and a unit, e.g. 30s, 1m, 5m, 2h"
        )
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(seconds=amount * _UNIT_SECONDS[unit])


def format_duration(value: timedelta) -> str:
    """The shortest exact string form: 300 s -> ``"5m"``."""
    ms = round(value.total_seconds() * 1000)
    for unit, seconds in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if ms % (seconds * 1000) == 0:
            return f"{ms // (seconds * 1000)}{unit}"
    return f"{ms}ms"


def spark_interval(value: timedelta) -> str:
    """Spark's interval string form (``"30 seconds"``), used for triggers and windows."""
    ms = round(value.total_seconds() * 1000)
    if ms % 1000 == 0:
        return f"{ms // 1000} seconds"
    return f"{ms} milliseconds"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["30s", "5m"]}),
]

_HOST_PORT = re.compile(
    r"^(?P<host>[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9a-fA-F:]+\]):(?P<port>[0-9]{1,5})$"
)
HOST_PORT_PATTERN = r"^[A-Za-z0-9.\[\]:-]+:[0-9]{1,5}$"


def _check_endpoint(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected 'host:port', got {value!r}")
    match = _HOST_PORT.match(value)
    if not match or not 0 < int(match.group("port")) < 65536:
        raise ValueError(f"invalid endpoint {value!r}: expected 'host:port' with a port 1-65535")
    return value


Endpoint = Annotated[
    str,
    BeforeValidator(_check_endpoint),
    WithJsonSchema(
        {"type": "string", "pattern": HOST_PORT_PATTERN, "examples": ["localhost:9092"]}
    ),
]


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """``"host:port"`` -> ``("host", port)``; brackets of IPv6 literals removed."""
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)
