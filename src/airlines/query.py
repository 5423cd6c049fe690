"""Reading the analytics back from Redis (the ``airlines query`` commands, the demo).

Follows the indexes of :mod:`airlines.jobs.layout`, never SCAN: the routes set, a
route's window index, a window's delay ranking, a flight's window index. Entries whose
hash has expired meanwhile are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from redis.cluster import RedisCluster

from airlines.jobs.layout import KeyLayout, WindowAggregate, iso_utc


@dataclass(frozen=True)
class RouteSummary:
    route: str
    windows: int
    latest_window_start_ms: int | None
    flights_in_latest: int

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        start = self.latest_window_start_ms
        data["latest_window_start"] = iso_utc(start) if start is not None else None
        return data


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

    def routes(self) -> list[RouteSummary]:
        summaries = []
        for route in sorted(_texts(self.client.smembers(self.layout.routes()))):
            index = self.layout.route_windows(route)
            latest = _texts(self.client.zrevrange(index, 0, 0))
            start = int(latest[0]) if latest else None
            flights = (
                int(self.client.zcard(self.layout.route_delays(route, start)))
                if start is not None
                else 0
            )
            summaries.append(RouteSummary(route, int(self.client.zcard(index)), start, flights))
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


def _texts(values: Any) -> list[str]:
    """Redis replies as strings (the client may or may not decode them)."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
