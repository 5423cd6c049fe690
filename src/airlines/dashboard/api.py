"""The dashboard's JSON API (``/api``): what the page shows, as ``airlines query --json``.

Every answer is read from Redis alone, with the read-only client. Failures have a
status and one sentence (``{"detail": ...}``), never a stack trace:

* 503: Redis cannot be read (unreachable, cluster down, no password configured);
* 404: an unknown route or flight (no analytics for it: never seen, or expired);
* 422: a bad parameter, named, checked before anything is read;
* 429: too many live event streams (from this client, or in total);
* 401: no token (:mod:`airlines.dashboard.security`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Annotated, Any, TypeVar

import orjson
import redis
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import StreamingResponse
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException

from airlines.config import RedisConfig
from airlines.contract.event import FLIGHT_ID_PATTERN
from airlines.contract.redis_layout import iso_utc, parse_iso_ms
from airlines.dashboard.metrics import DashboardMetrics
from airlines.dashboard.models import (
    ErrorOut,
    HealthOut,
    RouteOut,
    RouteWindowsOut,
    TopDelaysOut,
    WindowOut,
)
from airlines.dashboard.security import AuthMode, StreamLimiter, StreamLimits, client_key
from airlines.store.connect import RedisPasswordError
from airlines.store.reader import AnalyticsReader, aggregate_json
from airlines.store.readonly import read_only_client

T = TypeVar("T")

#: A route name as the config allows it.
ROUTE_PATTERN = r"^[a-z0-9-]{1,64}$"


class RedisUnavailableError(RuntimeError):
    """Redis could not be read; the message says why."""


@dataclass(frozen=True)
class DashboardSettings:
    """What the dashboard needs: where the analytics are, when they count as stale, who
    may read them and how many live streams it keeps."""

    redis: RedisConfig
    stale_after_seconds: float
    #: Who authenticates: the dashboard (token), a proxy in front, or nobody.
    auth: AuthMode = AuthMode.TOKEN
    #: The token's file (auth token).
    token_file: FilePath | None = None
    streams: StreamLimits = field(default_factory=lambda: StreamLimits(total=64, per_client=4))
    #: How often the event stream looks for a new batch (seconds).
    poll_seconds: float = 1.0


class AnalyticsSource:
    """The read-only reader, connected on first use and again after a failure."""

    def __init__(self, config: RedisConfig, metrics: DashboardMetrics) -> None:
        self.config = config
        self.metrics = metrics
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()

    def read(self, query: Callable[[AnalyticsReader], T]) -> T:
        """Run ``query``; :class:`RedisUnavailableError` if Redis cannot answer it."""
        try:
            with self._lock:
                if self._client is None:
                    self._client = read_only_client(self.config)
                client = self._client
            return query(AnalyticsReader(client, self.config.key_prefix))
        except RedisPasswordError as exc:
            self.metrics.redis_errors.inc()
            raise RedisUnavailableError(str(exc)) from exc
        except (redis.RedisError, RedisClusterException, OSError) as exc:
            self.metrics.redis_errors.inc()
            self.reset()
            nodes = ", ".join(self.config.nodes)
            problem = _first_line(exc)
            raise RedisUnavailableError(f"Redis is unreachable ({nodes}): {problem}") from exc

    def reset(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # a broken client may fail to close
                client.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


ERRORS: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorOut, "description": "Redis cannot be read."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No analytics for it."},
    **ERRORS,
}

RouteParam = Annotated[str, Path(pattern=ROUTE_PATTERN, description="Route name.")]
LimitParam = Annotated[int, Query(ge=1, le=100, description="How many.")]


def build_router(settings: DashboardSettings, source: AnalyticsSource) -> APIRouter:
    router = APIRouter(prefix="/api")

    def read(query: Callable[[AnalyticsReader], T]) -> T:
        try:
            return source.read(query)
        except RedisUnavailableError as exc:
            raise HTTPException(503, str(exc)) from exc

    def known_route(reader: AnalyticsReader, route: str) -> AnalyticsReader:
        if not reader.has_route(route):
            raise HTTPException(404, f"no analytics for route {route!r}")
        return reader

    @router.get("/routes", response_model=list[RouteOut], responses=ERRORS)
    def routes() -> list[dict[str, Any]]:
        """Routes with analytics, and each route's latest window with its figures."""
        return [s.to_json() for s in read(lambda r: r.routes())]

    @router.get("/routes/{route}/windows", response_model=RouteWindowsOut, responses=NOT_FOUND)
    def windows(route: RouteParam, limit: LimitParam = 20) -> dict[str, Any]:
        """Start times of the route's latest windows, newest first."""
        starts = read(lambda r: known_route(r, route).windows(route, limit))
        return {
            "route": route,
            "windows": [{"window_start_ms": s, "window_start": iso_utc(s)} for s in starts],
        }

    @router.get("/routes/{route}/top-delays", response_model=TopDelaysOut, responses=NOT_FOUND)
    def top_delays(
        route: RouteParam,
        window: Annotated[
            str, Query(description="'latest', or the window's start as ISO 8601 or epoch ms.")
        ] = "latest",
        limit: LimitParam = 10,
    ) -> dict[str, Any]:
        """The route's most delayed flights in a window (average delay, highest first)."""
        start = window_start(window)
        top = read(lambda r: known_route(r, route).top_delays(route, start, limit))
        return top.to_json()

    @router.get("/flights/{flight_id}", response_model=list[WindowOut], responses=NOT_FOUND)
    def flight(
        flight_id: Annotated[
            str, Path(pattern=FLIGHT_ID_PATTERN, description="Flight id, e.g. DL402.")
        ],
        limit: LimitParam = 12,
    ) -> list[dict[str, Any]]:
        """A flight's most recent windows, newest first."""
        found = read(lambda r: r.flight(flight_id, limit))
        if not found:
            raise HTTPException(
                404, f"no analytics for flight {flight_id!r} (unknown, or its windows expired)"
            )
        return [aggregate_json(w) for w in found]

    @router.get("/health", response_model=HealthOut, responses=ERRORS)
    def health(
        batches: Annotated[int, Query(ge=1, le=120, description="Batch reports.")] = 30,
    ) -> dict[str, Any]:
        """The job's last batch, how long ago it was, and its latest batch reports."""
        state = read(lambda r: r.health(batches))
        now_ms = int(time.time() * 1000)
        data = state.to_json(now_ms)
        age = state.age_seconds(now_ms)
        status = "no-batches" if age is None else "ok"
        if age is not None and age > settings.stale_after_seconds:
            status = "stale"
        return {"status": status, "stale_after_seconds": settings.stale_after_seconds, **data}

    limiter = StreamLimiter(settings.streams)

    @router.get(
        "/events",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}},
            429: {"model": ErrorOut, "description": "Too many live streams."},
        },
    )
    async def events(request: Request) -> StreamingResponse:
        """Server-sent events: ``update`` whenever the job finishes a batch (or says it is
        alive), ``unavailable`` while Redis cannot be read. The page refreshes on each.
        Each client may keep a few streams open, and the dashboard a bounded number in
        all: beyond either, 429."""
        client = client_key(request, settings.auth)
        refused = limiter.acquire(client)
        if refused is not None:
            source.metrics.streams_refused.inc()
            raise HTTPException(429, refused, headers={"Retry-After": "30"})
        source.metrics.streams.inc()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                limiter.release(client)
                source.metrics.streams.dec()

        return StreamingResponse(
            _event_stream(request, source, settings.poll_seconds, release),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router


#: The window times the API can name: 1970 up to the end of the year 9999 (epoch ms).
LATEST_WINDOW_MS = 253_402_300_799_999
#: Epoch ms as ASCII digits, no more than the last one has (``str.isdigit`` would take
#: "²", and ``int`` refuses more than 4,300 digits).
_EPOCH_MS = re.compile(r"[0-9]{1,15}")
#: Longest value of ``window`` quoted back in an answer.
_QUOTE = 40


def window_start(window: str) -> int | None:
    """``latest`` -> None; an ISO 8601 time or epoch ms -> epoch ms; else 422."""
    if window == "latest":
        return None
    quoted = repr(window[:_QUOTE]) + ("..." if len(window) > _QUOTE else "")
    if _EPOCH_MS.fullmatch(window):
        start = int(window)
    else:
        try:
            start = parse_iso_ms(window)
        except (ValueError, OverflowError):
            raise HTTPException(
                422, f"window: expected 'latest', an ISO 8601 time or epoch ms, got {quoted}"
            ) from None
    if not 0 <= start <= LATEST_WINDOW_MS:
        raise HTTPException(422, f"window: {quoted} is outside 1970-01-01 .. 9999-12-31 (UTC)")
    return start


#: Seconds between comment lines that keep an idle event stream open through proxies.
KEEPALIVE_SECONDS = 15.0


def _heartbeat(reader: AnalyticsReader) -> dict[str, Any]:
    """What changes when the job finishes a batch: its heartbeat (written with the
    analytics), then its batch report (written once Spark reports the batch)."""
    state = reader.health(1)
    return {
        "last_batch_id": state.last_batch_id,
        "last_batch_at_ms": state.last_batch_at_ms,
        "last_report": state.batches[0].batch_id if state.batches else None,
    }


async def _event_stream(
    request: Request, source: AnalyticsSource, poll_seconds: float, release: Callable[[], None]
) -> AsyncIterator[bytes]:
    try:
        yield b"retry: 3000\n\n"
        last: tuple[str, Any] | None = None
        quiet_since = time.monotonic()
        while not await request.is_disconnected():
            try:
                event: tuple[str, Any] = (
                    "update",
                    await asyncio.to_thread(source.read, _heartbeat),
                )
            except RedisUnavailableError as exc:
                event = ("unavailable", {"detail": str(exc)})
            if event != last:
                last = event
                quiet_since = time.monotonic()
                yield b"event: %s\ndata: %s\n\n" % (event[0].encode(), orjson.dumps(event[1]))
            elif time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                quiet_since = time.monotonic()
                yield b": keepalive\n\n"
            await asyncio.sleep(poll_seconds)
    finally:
        # Runs when the client goes (the stream is cancelled) or the server stops.
        release()
