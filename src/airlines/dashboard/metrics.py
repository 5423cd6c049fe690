"""The dashboard's own metrics: requests by route template, method and status class.

An ASGI middleware (it sees streamed responses too) counts every request once its
response starts. Every label takes its values from a fixed set, whatever a client
sends, so the number of series is bounded: the route's template
(``/api/flights/{flight_id}``, so flight ids do not multiply the series; unmatched
paths count as ``other``), the method (an unusual one counts as ``other``) and the
status class (``2xx`` .. ``5xx``).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airlines import metrics as names
from airlines.metrics import REQUEST_BUCKETS


class DashboardMetrics:
    """The dashboard's metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        spec = names.DASHBOARD_REQUESTS
        self.requests = Counter(spec.family, spec.help, spec.labels, registry=self.registry)
        spec = names.DASHBOARD_DURATION
        self.duration = Histogram(
            spec.family, spec.help, spec.labels, buckets=REQUEST_BUCKETS, registry=self.registry
        )
        spec = names.DASHBOARD_REDIS_ERRORS
        self.redis_errors = Counter(spec.family, spec.help, registry=self.registry)
        spec = names.DASHBOARD_STREAMS
        self.streams = Gauge(spec.name, spec.help, registry=self.registry)
        spec = names.DASHBOARD_STREAMS_REFUSED
        self.streams_refused = Counter(spec.family, spec.help, registry=self.registry)


#: The methods counted under their own name; any other counts as ``other``.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


def status_label(status: int) -> str:
    """``2xx``..``5xx``; anything else (a server cannot send it, but) ``other``."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def route_template(scope: Scope, routes: list[BaseRoute]) -> str:
    """The template of the route that serves (or would serve) the request; ``other``
    for none. Matched here too, since a request refused before routing (401) has no
    route in its scope yet."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return str(path)
    return _matching_template(scope, routes) or "other"


def _matching_template(scope: Scope, routes: list[BaseRoute]) -> str | None:
    for candidate in routes:
        match, _ = candidate.matches(scope)
        if match is not Match.FULL:
            continue
        path = getattr(candidate, "path", None)
        if path:
            return str(path)
        # An included router (FastAPI keeps it whole, its routes' paths prefixed).
        inner: Any = getattr(getattr(candidate, "original_router", candidate), "routes", None)
        if inner:
            found = _matching_template(scope, list(inner))
            if found:
                return found
    return None


class RequestMetricsMiddleware:
    """Counts and times every HTTP request (ASGI middleware)."""

    def __init__(self, app: ASGIApp, metrics: DashboardMetrics, routes: list[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = method_label(str(scope.get("method", "")))
        counted = False

        def count(status: int) -> None:
            nonlocal counted
            if counted:
                return
            counted = True
            path = route_template(scope, self.routes)
            self.metrics.requests.labels(path, method, status_label(status)).inc()
            self.metrics.duration.labels(path, method).observe(time.perf_counter() - started)

        async def send_counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                count(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        except Exception:
            count(500)
            raise
