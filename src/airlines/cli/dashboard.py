"""``airlines dashboard``: the live web dashboard of the analytics, read from Redis."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from airlines.cli.common import ConfigOption, check_listen_address, fail, resolve_config, say_error
from airlines.config.types import parse_duration

#: The dashboard's default port (the chart's container port too).
DEFAULT_PORT = 8050


def dashboard(
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on: 127.0.0.1 (this machine only) or 0.0.0.0 (a pod's "
            "every interface)."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = DEFAULT_PORT,
    redis_user: Annotated[
        str | None,
        typer.Option(
            help="Log in to Redis as this ACL user (its password in the variable "
            "redis.passwordEnv names) instead of redis.username."
        ),
    ] = None,
    stale_after: Annotated[
        str | None,
        typer.Option(
            help="Call the pipeline stale when its last batch is older than this (default: "
            "3 triggers, at least 1m)."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the live dashboard: routes, top delays, a flight's history, pipeline health.

    Read-only: it only reads the analytics from Redis. The page, its JSON API (/api,
    described at /api/openapi.json) and /metrics are served from here, with no CDN.
    """
    from airlines.dashboard.api import DashboardSettings
    from airlines.dashboard.server import Listener, ListenError, bind, serve

    host = check_listen_address("--host", host)
    app_config = resolve_config(config)
    redis = app_config.redis
    if redis_user is not None:
        redis = redis.model_copy(update={"username": redis_user})
    trigger = app_config.streaming.trigger.total_seconds()
    stale = max(60.0, 3 * trigger)
    if stale_after is not None:
        try:
            stale = parse_duration(stale_after).total_seconds()
        except ValueError as exc:
            fail(f"--stale-after: {exc}")
    try:
        sock = bind(host, port)
    except ListenError as exc:
        fail(f"--port: {exc}")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    say_error(f"dashboard on {Listener(host, port).url} (Redis {', '.join(redis.nodes)})")
    serve(DashboardSettings(redis=redis, stale_after_seconds=stale), sock)


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
