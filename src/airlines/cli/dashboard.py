"""``airlines dashboard``: the live web dashboard of the analytics, read from Redis."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from airlines.cli.common import ConfigOption, check_listen_address, fail, resolve_config, say_error
from airlines.config.types import parse_duration
from airlines.metrics import DASHBOARD_METRICS_PORT, DASHBOARD_PORT

#: The dashboard's default port (the chart's container port too).


def dashboard(
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on: 127.0.0.1 (this machine only) or 0.0.0.0 (a pod's "
            "every interface)."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port to listen on.")
    ] = DASHBOARD_PORT,
    metrics_host: Annotated[
        str | None,
        typer.Option(help="Address of /metrics (default: the same as --host)."),
    ] = None,
    metrics_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            help="Port of /metrics, its own (not the page's); 0: no metrics.",
        ),
    ] = DASHBOARD_METRICS_PORT,
    auth: Annotated[
        str,
        typer.Option(
            help="Who authenticates: token (the dashboard asks for its token), proxy (an "
            "authenticating proxy in front; the dashboard checks nothing) or none (only "
            "with --allow-insecure).",
        ),
    ] = "token",
    token_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the token (--auth token). Default: a token generated once "
            "into ~/.cache/airlines-analytics/dashboard/token (mode 0600), whose login "
            "link is printed.",
        ),
    ] = None,
    allow_insecure: Annotated[
        bool,
        typer.Option(help="Allow --auth none: anyone who reaches the port reads the page."),
    ] = False,
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

    Read-only: it only reads the analytics from Redis. The page and its JSON API (/api,
    described at /api/openapi.json) are served from here, with no CDN, to those who
    show its token; /metrics is on a port of its own (--metrics-port).
    """
    from airlines.dashboard.api import DashboardSettings
    from airlines.dashboard.metrics import DashboardMetrics
    from airlines.dashboard.security import (
        AuthMode,
        StreamLimits,
        TokenFile,
        TokenFileError,
        default_token_file,
        ensure_token_file,
    )
    from airlines.dashboard.server import Listener, ListenError, bind, serve
    from airlines.metrics import MetricsListenError, MetricsServer

    host = check_listen_address("--host", host)
    metrics_host = check_listen_address("--metrics-host", metrics_host or host)
    try:
        mode = AuthMode(auth)
    except ValueError:
        fail(f"--auth: expected token, proxy or none, got {auth!r}")
    if mode is AuthMode.NONE and not allow_insecure:
        fail(
            "--auth none: needs --allow-insecure (anyone who reaches the port would read "
            "the dashboard)"
        )
    if token_file is not None and mode is not AuthMode.TOKEN:
        fail(f"--token-file: only with --auth token (not {mode.value})")
    if metrics_port != 0 and metrics_port == port and metrics_host == host:
        fail(f"--metrics-port: {metrics_port} is the page's port; metrics need their own")
    # Our own token file is shown (as Jupyter does: this user started it, on this
    # machine); one we were given (a mounted Secret) never is: logs are not for secrets.
    show_token = False
    if mode is AuthMode.TOKEN and token_file is None:
        token_file = default_token_file()
        ensure_token_file(token_file)
        show_token = True
    token = ""
    if token_file is not None:
        try:
            token = TokenFile(token_file).token()
        except TokenFileError as exc:
            fail(f"--token-file: {exc}")
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
    metrics = DashboardMetrics()
    metrics_server = None
    if metrics_port:
        try:
            metrics_server = MetricsServer(metrics.registry, metrics_host, metrics_port)
        except MetricsListenError as exc:
            sock.close()
            fail(f"--metrics-port: {exc}")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    url = Listener(host, port).url
    say_error(f"dashboard on {url} (Redis {', '.join(redis.nodes)})")
    if show_token:
        say_error(f"open it with its token: {url}?token={token}")
    elif mode is AuthMode.TOKEN:
        say_error(f"its token is in {token_file}; open {url}?token=<token>")
    elif mode is AuthMode.PROXY:
        say_error("authentication: left to the proxy in front (--auth proxy)")
    else:
        say_error("WARNING: authentication is off (--auth none): anyone who reaches it reads it")
    if metrics_server is not None:
        say_error(f"metrics on {metrics_server.url}")
    limits = app_config.dashboard
    settings = DashboardSettings(
        redis=redis,
        stale_after_seconds=stale,
        auth=mode,
        token_file=token_file,
        streams=StreamLimits(total=limits.max_streams, per_client=limits.max_streams_per_client),
    )
    serve(settings, sock, metrics, metrics_server)


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
