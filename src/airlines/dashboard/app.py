"""The dashboard's web application: the page, its assets, the API and probes.

Its metrics are not served here but on a port of their own (:mod:`airlines.dashboard.server`),
so that what may open the page and what may scrape are separate rules. Every request
but ``/healthz`` needs the token (:mod:`airlines.dashboard.security`, unless a proxy
authenticates), and every answer carries the security headers.

Everything the page loads comes from this server: its own HTML, script and styles
(``static/``), and plotly.js from the ``plotly`` Python package (``/static/plotly.min.js``),
so it works with no network beyond the dashboard. No CDN, no run-time download; the
OpenAPI document is at ``/api/openapi.json`` (FastAPI's interactive docs are off: they
load from a CDN).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from airlines.dashboard.api import (
    AnalyticsSource,
    DashboardSettings,
    RedisUnavailableError,
    build_router,
)
from airlines.dashboard.metrics import DashboardMetrics, RequestMetricsMiddleware
from airlines.dashboard.security import (
    AuthMiddleware,
    AuthMode,
    SecurityHeadersMiddleware,
    TokenFile,
)

log = logging.getLogger("airlines.dashboard")

STATIC = Path(str(resources.files("airlines.dashboard") / "static"))
#: The files the page loads, by URL name.
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}


def plotly_bundle() -> Path:
    """plotly.js as the ``plotly`` Python package ships it (found, not imported)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the plotly package is not installed (it ships plotly.js)")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"


def create_app(settings: DashboardSettings, metrics: DashboardMetrics | None = None) -> FastAPI:
    """The app; its metrics go to ``metrics`` (served elsewhere)."""
    metrics = metrics or DashboardMetrics()
    tokens: TokenFile | None = None
    if settings.auth is AuthMode.TOKEN:
        if settings.token_file is None:
            raise ValueError("auth token needs a token file")
        tokens = TokenFile(settings.token_file)
    source = AnalyticsSource(settings.redis, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        source.reset()

    app = FastAPI(
        title="airlines-analytics dashboard",
        summary="Live flight analytics from Redis: routes, top delays, a flight's history, "
        "the pipeline's health.",
        version="0.1.0",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.source = source
    app.state.metrics = metrics
    # Outermost first in the request's path: count it, add the headers, then check it.
    if tokens is not None:
        app.add_middleware(AuthMiddleware, tokens=tokens)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics, routes=app.router.routes)
    app.include_router(build_router(settings, source))
    _error_handlers(app)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/static/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        if name == "plotly.min.js":
            return FileResponse(plotly_bundle(), media_type="text/javascript")
        if name not in ASSETS:
            raise StarletteHTTPException(404, f"no asset {name!r}")
        return FileResponse(STATIC / name, media_type=ASSETS[name])

    @app.get("/healthz", include_in_schema=False)
    def alive() -> PlainTextResponse:
        """Liveness: the server answers (Redis may be down: that is not our fault)."""
        return PlainTextResponse("ok\n")

    @app.get("/readyz", include_in_schema=False)
    def ready() -> PlainTextResponse:
        """Readiness: Redis can be read."""
        try:
            source.read(lambda reader: reader.route_names())
        except RedisUnavailableError as exc:
            return PlainTextResponse(f"{exc}\n", status_code=503)
        return PlainTextResponse("ok\n")

    return app


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("path", "query"))
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
        return JSONResponse({"detail": "; ".join(problems)}, status_code=422)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse(
            {"detail": "internal error (the dashboard's log has the details)"}, status_code=500
        )
