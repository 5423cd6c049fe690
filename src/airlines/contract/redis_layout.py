"""Where the analytics live in Redis: the key layout, shared by the sink and the readers.

Key layout (``P`` is ``redis.keyPrefix``, default ``aa``; times are epoch
milliseconds, UTC; every key gets ``redis.ttl`` re-applied on every write)::

    P:win:<route>:<flight_id>:<window_start_ms>      HASH  one window of one flight
        route, airline, flight_id,
        window_start, window_end          ISO 8601 UTC ("2024-05-01T12:05:00Z")
        window_start_ms, window_end_ms    epoch ms
        event_count, total_passengers, delayed_count       integers
        avg_ticket_price, avg_delay_minutes, delayed_share  floats (repr: exact)
        updated_at, updated_at_ms         the micro-batch's time (see below)
        batch_id                          the micro-batch that last wrote it

    P:route:<route>:windows                          ZSET  a route's latest windows
        member <window_start_ms>, score window_start_ms; the newest redis.topN kept

    P:delays:<route>:<window_start_ms>               ZSET  a route's flights in a window
        member <flight_id>, score avg_delay_minutes     (ZREVRANGE 0 N-1 = top N delays)

    P:flight:<flight_id>:windows                     ZSET  a flight's recent windows
        member the window's HASH key, score window_start_ms; the newest redis.topN kept

    P:routes                                         SET   route names with analytics

    P:job:heartbeat                                  HASH  written after every batch
        batch_id, updated_at_ms (wall clock, epoch ms), rows (rows written)

    P:job:batches                                    ZSET  the job's latest batch reports
        member a JSON object (batch_id, finished_at_ms, input_rows, rows_written,
        dead_lettered, late_events, duplicates, duration_ms, watermark_ms),
        score batch_id; the newest BATCH_LOG_KEEP kept

Reads never need SCAN: routes -> a route's windows -> the window's delay ranking ->
the flights' hashes; or a flight's windows -> their hashes.

Keys carry no hash tags, so the window hashes (the bulk of the data) spread over all
slots by route, flight and window; every hash is one window of one flight (a few
hundred bytes), and the ZSETs are bounded (``topN`` windows; a delay ranking holds one
member per flight of a route). Index keys are written once per key and write group
(up to 20,000 rows of a partition, see :mod:`airlines.store.writer`), not once per
row: one ZADD of all the group's members, one trim, one TTL.

Replays are idempotent: a window's fields are all derived from the batch's data and
the batch's own timestamp (``updated_at`` is Spark's micro-batch time, which is
recorded in the checkpoint's offset log and reused when the batch is replayed), ZSET
members are stable names (window start, flight id, hash key) whose scores come from the
data, and trimming keeps the newest ``topN`` by score, which does not depend on write
order (nor on how often it runs: the newest ``topN`` of the newest ``topN`` of A, plus
B, are the newest ``topN`` of A plus B). Writing a batch twice leaves exactly the state
of writing it once (TTLs aside, which restart on every write). Only the heartbeat
carries wall-clock time: it says when the job last finished a batch.

A flight is its flight id on its route (the id's first two characters are the
airline's designator): ``(route, flight_id, window)`` identifies a hash, and the
aggregation groups by exactly that. The airline is an attribute of the hash (the first,
in string order, of the names the window's events carry).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

import orjson

#: One Redis command: name and arguments.
Command = tuple[str | bytes | int | float, ...]

#: Batch reports kept in ``P:job:batches`` (the dashboard's pipeline-health history).
BATCH_LOG_KEEP = 120


def iso_utc(epoch_ms: int) -> str:
    """``1714564800000`` -> ``"2024-05-01T12:00:00Z"`` (milliseconds only when not zero)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    text = moment.isoformat(timespec="milliseconds" if epoch_ms % 1000 else "seconds")
    return text.replace("+00:00", "Z")


def parse_iso_ms(text: str) -> int:
    """An ISO 8601 time (naive means UTC) -> epoch milliseconds."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


@dataclass(frozen=True)
class KeyLayout:
    """Key names under one prefix (see the module docstring)."""

    prefix: str

    def window(self, route: str, flight_id: str, window_start_ms: int) -> str:
        return f"{self.prefix}:win:{route}:{flight_id}:{window_start_ms}"

    def route_windows(self, route: str) -> str:
        return f"{self.prefix}:route:{route}:windows"

    def route_delays(self, route: str, window_start_ms: int) -> str:
        return f"{self.prefix}:delays:{route}:{window_start_ms}"

    def flight_windows(self, flight_id: str) -> str:
        return f"{self.prefix}:flight:{flight_id}:windows"

    def routes(self) -> str:
        return f"{self.prefix}:routes"

    def heartbeat(self) -> str:
        return f"{self.prefix}:job:heartbeat"

    def batches(self) -> str:
        return f"{self.prefix}:job:batches"


@dataclass(frozen=True)
class WindowAggregate:
    """One flight's analytics for one window: a row of the job's output, a HASH in Redis."""

    route: str
    airline: str
    flight_id: str
    window_start_ms: int
    window_end_ms: int
    event_count: int
    total_passengers: int
    avg_ticket_price: float
    avg_delay_minutes: float
    delayed_count: int
    delayed_share: float
    updated_at_ms: int
    batch_id: int = -1

    def to_row(self) -> tuple[Any, ...]:
        """The row as the job hands it to the sink (:data:`SINK_COLUMNS` order)."""
        return (
            self.route,
            self.airline,
            self.flight_id,
            self.window_start_ms,
            self.window_end_ms,
            self.event_count,
            self.total_passengers,
            self.avg_ticket_price,
            self.avg_delay_minutes,
            self.delayed_count,
            self.delayed_share,
            self.updated_at_ms,
        )

    def to_hash(self) -> dict[str, str]:
        # repr() of a float round-trips exactly; readers get the job's very numbers.
        return {
            "route": self.route,
            "airline": self.airline,
            "flight_id": self.flight_id,
            "window_start": iso_utc(self.window_start_ms),
            "window_end": iso_utc(self.window_end_ms),
            "window_start_ms": str(self.window_start_ms),
            "window_end_ms": str(self.window_end_ms),
            "event_count": str(self.event_count),
            "total_passengers": str(self.total_passengers),
            "delayed_count": str(self.delayed_count),
            "avg_ticket_price": repr(self.avg_ticket_price),
            "avg_delay_minutes": repr(self.avg_delay_minutes),
            "delayed_share": repr(self.delayed_share),
            "updated_at": iso_utc(self.updated_at_ms),
            "updated_at_ms": str(self.updated_at_ms),
            "batch_id": str(self.batch_id),
        }

    @classmethod
    def from_hash(cls, fields: Mapping[str, str] | Mapping[bytes, bytes]) -> WindowAggregate:
        text = {_str(k): _str(v) for k, v in fields.items()}
        return cls(
            route=text["route"],
            airline=text["airline"],
            flight_id=text["flight_id"],
            window_start_ms=int(text["window_start_ms"]),
            window_end_ms=int(text["window_end_ms"]),
            event_count=int(text["event_count"]),
            total_passengers=int(text["total_passengers"]),
            avg_ticket_price=float(text["avg_ticket_price"]),
            avg_delay_minutes=float(text["avg_delay_minutes"]),
            delayed_count=int(text["delayed_count"]),
            delayed_share=float(text["delayed_share"]),
            updated_at_ms=int(text["updated_at_ms"]),
            batch_id=int(text.get("batch_id", "-1")),
        )


def _str(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


#: The columns of a window row as the job hands them to the sink, in this order
#: (:func:`airlines.stream.windows.sink_rows`); a row is any sequence of these values.
SINK_COLUMNS = (
    "route_name",
    "airline",
    "flight_id",
    "window_start_ms",
    "window_end_ms",
    "event_count",
    "total_passengers",
    "avg_ticket_price",
    "avg_delay_minutes",
    "delayed_count",
    "delayed_share",
    "updated_at_ms",
)


def write_commands(
    rows: Iterable[WindowAggregate], layout: KeyLayout, *, ttl_seconds: int, top_n: int
) -> list[Command]:
    """Every command that stores ``rows`` (one partition of a batch), idempotently.

    The reference of what the sink writes: :mod:`airlines.store.encoding` encodes
    these very commands, in this order, without building them (a unit test checks it).

    Per row: the window HASH and its TTL. Per flight (not per row): one ZADD of all its
    windows to its index, one trim, one TTL. Per route and window: one ZADD of all its
    flights' delays. Per route: the route's window index; the route set, once.
    Trimming once per key per call leaves what trimming after every row would: the
    newest ``top_n`` by score of everything added.
    """
    commands: list[Command] = []
    flights: dict[str, list[tuple[int, str]]] = {}
    delays: dict[tuple[str, int], list[tuple[float, str]]] = {}
    route_starts: dict[str, set[int]] = {}
    trim_to = -(top_n + 1)
    for row in rows:
        key = layout.window(row.route, row.flight_id, row.window_start_ms)
        fields = row.to_hash()
        commands.append(("HSET", key, *[item for pair in fields.items() for item in pair]))
        commands.append(("EXPIRE", key, ttl_seconds))
        flights.setdefault(row.flight_id, []).append((row.window_start_ms, key))
        delays.setdefault((row.route, row.window_start_ms), []).append(
            (row.avg_delay_minutes, row.flight_id)
        )
        route_starts.setdefault(row.route, set()).add(row.window_start_ms)
    for flight_id, windows in flights.items():
        index = layout.flight_windows(flight_id)
        commands.append(("ZADD", index, *[item for pair in sorted(windows) for item in pair]))
        commands.append(("ZREMRANGEBYRANK", index, 0, trim_to))
        commands.append(("EXPIRE", index, ttl_seconds))
    for (route, start), members in sorted(delays.items()):
        key = layout.route_delays(route, start)
        commands.append(
            (
                "ZADD",
                key,
                *[item for score, flight in sorted(members) for item in (repr(score), flight)],
            )
        )
        commands.append(("EXPIRE", key, ttl_seconds))
    for route, starts in sorted(route_starts.items()):
        index = layout.route_windows(route)
        commands.append(("ZADD", index, *[item for s in sorted(starts) for item in (s, s)]))
        commands.append(("ZREMRANGEBYRANK", index, 0, trim_to))
        commands.append(("EXPIRE", index, ttl_seconds))
    if route_starts:
        commands.append(("SADD", layout.routes(), *sorted(route_starts)))
        commands.append(("EXPIRE", layout.routes(), ttl_seconds))
    return commands


def heartbeat_commands(
    layout: KeyLayout, *, batch_id: int, rows: int, now_ms: int, ttl_seconds: int
) -> Sequence[Command]:
    key = layout.heartbeat()
    return (
        ("HSET", key, "batch_id", batch_id, "updated_at_ms", now_ms, "rows", rows),
        ("EXPIRE", key, ttl_seconds),
    )


@dataclass(frozen=True)
class BatchSummary:
    """One analytics micro-batch as the job reports it to Redis (``P:job:batches``).

    ``input_rows = aggregated + dead_lettered + late_events + duplicates + markers``; the figures
    are those of the job's batch log line. ``watermark_ms`` is the event-time watermark
    the batch ran with (None before any event).
    """

    batch_id: int
    finished_at_ms: int
    input_rows: int
    rows_written: int
    dead_lettered: int
    late_events: int
    duplicates: int
    duration_ms: int
    watermark_ms: int | None
    #: Smoke markers skipped (0 in reports written before markers were counted).
    markers: int = 0

    def to_json_bytes(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, text: str | bytes) -> BatchSummary:
        data = orjson.loads(text)
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def batch_log_commands(
    layout: KeyLayout, summary: BatchSummary, *, ttl_seconds: int, keep: int = BATCH_LOG_KEEP
) -> Sequence[Command]:
    """Record a batch report, idempotently: a replayed batch replaces its earlier report."""
    key = layout.batches()
    return (
        ("ZREMRANGEBYSCORE", key, summary.batch_id, summary.batch_id),
        ("ZADD", key, summary.batch_id, summary.to_json_bytes()),
        ("ZREMRANGEBYRANK", key, 0, -(keep + 1)),
        ("EXPIRE", key, ttl_seconds),
    )
