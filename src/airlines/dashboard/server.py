"""Serving the dashboard with uvicorn on an address of our choosing, and its metrics on
another port."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import uvicorn

from airlines.dashboard.api import DashboardSettings
from airlines.dashboard.app import create_app
from airlines.dashboard.metrics import DashboardMetrics
from airlines.metrics import MetricsServer


class ListenError(RuntimeError):
    """The dashboard cannot listen where it was asked to (the message says why)."""


@dataclass(frozen=True)
class Listener:
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or :class:`ListenError` saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def serve(
    settings: DashboardSettings,
    sock: socket.socket,
    metrics: DashboardMetrics,
    metrics_server: MetricsServer | None,
) -> None:
    """Serve until SIGTERM/Ctrl-C (uvicorn handles both, closing streams after 3 s);
    ``metrics`` are served by ``metrics_server`` (already listening), if any."""
    config = uvicorn.Config(
        create_app(settings, metrics),
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=3,
        lifespan="on",
        # No Server header: it tells a client nothing it needs.
        server_header=False,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if metrics_server is not None:
            metrics_server.close()
