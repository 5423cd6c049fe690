"""Reading the analytics back from Redis (``airlines query``, the demo, the dashboard).

Follows the indexes of :mod:`airlines.contract.redis_layout`, never SCAN: the routes set, a
route's window index, a window's delay ranking, a flight's window index, the job's
heartbeat and batch log. Entries whose hash has expired meanwhile are skipped. Every
command here is a read: the dashboard's client refuses anything else
(:mod:`airlines.store.readonly`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from redis.cluster import RedisCluster

from airlines.contract.redis_layout import BatchSummary, KeyLayout, WindowAggregate, iso_utc


@dataclass(frozen=True)
class RouteSummary:
    """A route and its latest window: the flights in it and their figures.

    The averages are over the window's events (each flight's average weighted by its
    event count), so they equal averages over every event of the route in the window;
    None when the window has no flights left.
    """

    route: str
    windows: int
    latest_window_start_ms: int | None
    flights_in_latest: int
    events_in_latest: int = 0
    avg_delay_minutes: float | None = None
    delayed_share: float | None = None
    avg_ticket_price: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        start = self.latest_window_start_ms
        data["latest_window_start"] = iso_utc(start) if start is not None else None
        return data


def route_figures(
    route: str, windows: int, start: int | None, flights: list[WindowAggregate]
) -> RouteSummary:
    """A route's summary from the hashes of its latest window's flights."""
    events = sum(f.event_count for f in flights)
    if not events:
        return RouteSummary(route, windows, start, len(flights))
    return RouteSummary(
        route,
        windows,
        start,
        len(flights),
        events,
        sum(f.avg_delay_minutes * f.event_count for f in flights) / events,
        sum(f.delayed_count for f in flights) / events,
        sum(f.avg_ticket_price * f.event_count for f in flights) / events,
    )


@dataclass(frozen=True)
class PipelineHealth:
    """The streaming job's last batch (its heartbeat) and its latest batch reports.

    ``batches`` are newest first. ``last_batch_at_ms`` is when the job last finished a
    batch or, with no new input, last said it was alive (wall clock).
    """

    last_batch_id: int | None
    last_batch_at_ms: int | None
    last_batch_rows: int | None
    batches: list[BatchSummary]

    @property
    def has_run(self) -> bool:
        return self.last_batch_at_ms is not None

    def age_seconds(self, now_ms: int) -> float | None:
        if self.last_batch_at_ms is None:
            return None
        return max(0.0, (now_ms - self.last_batch_at_ms) / 1000)

    def to_json(self, now_ms: int) -> dict[str, Any]:
        at = self.last_batch_at_ms
        return {
            "last_batch_id": self.last_batch_id,
            "last_batch_at_ms": at,
            "last_batch_at": iso_utc(at) if at is not None else None,
            "last_batch_rows": self.last_batch_rows,
            "age_seconds": self.age_seconds(now_ms),
            "batches": [
                {
                    **asdict(b),
                    "finished_at": iso_utc(b.finished_at_ms),
                    "watermark": iso_utc(b.watermark_ms) if b.watermark_ms is not None else None,
                }
                for b in self.batches
            ],
        }


@dataclass(frozen=True)
class TopDelays:
    route: str
    window_start_ms: int | None
    flights: list[WindowAggregate]

    def to_json(self) -> dict[str, Any]:
        start = self.window_start_ms
        return {
            "route": self.route,
            "window_start_ms": start,
            "window_start": iso_utc(start) if start is not None else None,
            "flights": [aggregate_json(f) for f in self.flights],
        }


def aggregate_json(aggregate: WindowAggregate) -> dict[str, Any]:
    data: dict[str, Any] = asdict(aggregate)
    data["window_start"] = iso_utc(aggregate.window_start_ms)
    data["window_end"] = iso_utc(aggregate.window_end_ms)
    data["updated_at"] = iso_utc(aggregate.updated_at_ms)
    return data


class AnalyticsReader:
    """Queries over one key prefix of a Redis Cluster."""

    def __init__(self, client: RedisCluster, key_prefix: str) -> None:
        self.client = client
        self.layout = KeyLayout(key_prefix)

    def _hashes(self, keys: Sequence[str]) -> list[WindowAggregate]:
        if not keys:
            return []
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return [WindowAggregate.from_hash(h) for h in pipe.execute() if h]

    def route_names(self) -> list[str]:
        return sorted(_texts(self.client.smembers(self.layout.routes())))

    def has_route(self, route: str) -> bool:
        return bool(self.client.sismember(self.layout.routes(), route))

    def routes(self) -> list[RouteSummary]:
        """Each route with analytics, and the figures of its latest window."""
        summaries = []
        for route in self.route_names():
            index = self.layout.route_windows(route)
            latest = _texts(self.client.zrevrange(index, 0, 0))
            start = int(latest[0]) if latest else None
            flights: list[WindowAggregate] = []
            if start is not None:
                ranking = _texts(self.client.zrange(self.layout.route_delays(route, start), 0, -1))
                flights = self._hashes([self.layout.window(route, f, start) for f in ranking])
            summaries.append(route_figures(route, int(self.client.zcard(index)), start, flights))
        return summaries

    def windows(self, route: str, limit: int = 20) -> list[int]:
        """Start times (epoch ms) of a route's latest windows, newest first."""
        members = self.client.zrevrange(self.layout.route_windows(route), 0, limit - 1)
        return [int(m) for m in _texts(members)]

    def top_delays(
        self, route: str, window_start_ms: int | None = None, limit: int = 10
    ) -> TopDelays:
        """The ``limit`` flights of a route with the highest average delay in a window.

        ``window_start_ms`` None means the route's latest window.
        """
        if window_start_ms is None:
            latest = self.windows(route, 1)
            if not latest:
                return TopDelays(route, None, [])
            window_start_ms = latest[0]
        ranking = _texts(
            self.client.zrevrange(self.layout.route_delays(route, window_start_ms), 0, limit - 1)
        )
        keys = [self.layout.window(route, flight, window_start_ms) for flight in ranking]
        return TopDelays(route, window_start_ms, self._hashes(keys))

    def flight(self, flight_id: str, limit: int = 10) -> list[WindowAggregate]:
        """A flight's most recent windows, newest first."""
        keys = _texts(self.client.zrevrange(self.layout.flight_windows(flight_id), 0, limit - 1))
        return self._hashes(keys)

    def health(self, batches: int = 30) -> PipelineHealth:
        """The job's heartbeat and its ``batches`` latest batch reports."""
        beat = dict(_pairs(self.client.hgetall(self.layout.heartbeat())))
        reports = self.client.zrevrange(self.layout.batches(), 0, batches - 1)
        return PipelineHealth(
            last_batch_id=_int(beat.get("batch_id")),
            last_batch_at_ms=_int(beat.get("updated_at_ms")),
            last_batch_rows=_int(beat.get("rows")),
            batches=[BatchSummary.from_json(r) for r in _texts(reports)],
        )


def _int(value: str | None) -> int | None:
    return int(value) if value is not None else None


def _pairs(mapping: Any) -> list[tuple[str, str]]:
    keys, values = _texts(mapping.keys()), _texts(mapping.values())
    return list(zip(keys, values, strict=True))


def _texts(values: Any) -> list[str]:
    """Redis replies as strings (the client may or may not decode them)."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
