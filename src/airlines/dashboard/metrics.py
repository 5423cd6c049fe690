"""The dashboard's own metrics: requests by route template, method and status.

An ASGI middleware (it sees streamed responses too) counts every request once its
response starts, under the route's template (``/api/flights/{flight_id}``, so flight
ids do not multiply the series); unmatched paths count as ``other``.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
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


def route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "other"


class RequestMetricsMiddleware:
    """Counts and times every HTTP request (ASGI middleware)."""

    def __init__(self, app: ASGIApp, metrics: DashboardMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = str(scope.get("method", ""))
        counted = False

        def count(status: int) -> None:
            nonlocal counted
            if counted:
                return
            counted = True
            path = route_template(scope)
            self.metrics.requests.labels(path, method, str(status)).inc()
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
